/**
 * The wire vocabulary of secmon (spec: security-events.md). Every other package imports names
 * from here; nothing else spells an event name or attribute key as a string literal.
 */

/** Event names, carried in the LogRecord `EventName` field (OTLP `event_name`). */
export const EVENT = {
  /** A sign-in attempt finished. */
  AUTH_LOGIN: "auth.login",
  /** A session ended. */
  AUTH_LOGOUT: "auth.logout",
  /** A second factor was checked. */
  AUTH_MFA: "auth.mfa",
  /** A signed-in user changed the password. */
  AUTH_PASSWORD_CHANGE: "auth.password_change",
  /** The password reset flow moved. */
  AUTH_PASSWORD_RESET: "auth.password_reset",
  /** The application locked an account. */
  AUTH_ACCOUNT_LOCKED: "auth.account_locked",
  /** An account was modified. */
  ACCOUNT_CHANGE: "account.change",
  /** An authorization check finished. */
  AUTHZ_DECISION: "authz.decision",
  /** An HTTP request finished. */
  API_REQUEST: "api.request",
  /** The application rejected input. */
  INPUT_VALIDATION_FAILURE: "input.validation_failure",
  /** Sensitive data was read, exported, changed or deleted. */
  DATA_ACCESS: "data.access",
} as const;
export type EventName = (typeof EVENT)[keyof typeof EVENT];

/** Every event name of the spec, in spec order. `custom.*` names are the applications' own. */
export const SECURITY_EVENT_NAMES: readonly EventName[] = Object.freeze(Object.values(EVENT));

/** Prefix reserved for applications' own event names. */
export const CUSTOM_EVENT_PREFIX = "custom.";

/** The attribute that older SDKs and Collectors use for the event name. */
export const ATTR_EVENT_NAME = "event.name";

/** Attributes shared by every event. */
export const ATTR = {
  CLIENT_ADDRESS: "client.address",
  USER_ID: "user.id",
  USER_HASH: "user.hash",
  USER_NAME: "user.name",
  USER_AGENT_ORIGINAL: "user_agent.original",
  SESSION_ID: "session.id",
  GEO_LOCATION_LAT: "geo.location.lat",
  GEO_LOCATION_LON: "geo.location.lon",
  GEO_COUNTRY_ISO_CODE: "geo.country.iso_code",
  GEO_LOCALITY_NAME: "geo.locality.name",

  AUTH_OUTCOME: "auth.outcome",
  AUTH_FAILURE_REASON: "auth.failure_reason",
  AUTH_METHOD: "auth.method",
  AUTH_LOGOUT_REASON: "auth.logout_reason",
  AUTH_MFA_METHOD: "auth.mfa_method",
  AUTH_RESET_STAGE: "auth.reset_stage",
  AUTH_LOCK_REASON: "auth.lock_reason",

  ACCOUNT_CHANGE_TYPE: "account.change_type",
  ACCOUNT_TARGET_USER_ID: "account.target_user.id",

  AUTHZ_DECISION: "authz.decision",
  AUTHZ_PERMISSION: "authz.permission",
  AUTHZ_MISSING_PERMISSIONS: "authz.missing_permissions",
  AUTHZ_RESOURCE: "authz.resource",

  HTTP_REQUEST_METHOD: "http.request.method",
  HTTP_ROUTE: "http.route",
  URL_PATH: "url.path",
  HTTP_RESPONSE_STATUS_CODE: "http.response.status_code",
  HTTP_SERVER_REQUEST_DURATION: "http.server.request.duration",
  HTTP_RESPONSE_BODY_SIZE: "http.response.body.size",
  HTTP_REQUEST_BODY_SIZE: "http.request.body.size",

  INPUT_FIELD: "input.field",
  INPUT_RULE: "input.rule",

  DATA_RESOURCE: "data.resource",
  DATA_OPERATION: "data.operation",
  DATA_RECORD_COUNT: "data.record_count",
  DATA_BYTES: "data.bytes",
} as const;
export type AttributeKey = (typeof ATTR)[keyof typeof ATTR];

/**
 * Prefix of the attributes that carry an application's free-form metadata, flattened with dots
 * (`{ cart: { items: 3 } }` becomes `secmon.metadata.cart.items`). Defined by the instrumentation,
 * not by the spec; the detector keeps such attributes like any unknown attribute.
 */
export const METADATA_ATTR_PREFIX = "secmon.metadata.";

/** Resource attributes the detector reads. */
export const RESOURCE_ATTR = {
  SERVICE_NAME: "service.name",
  SERVICE_VERSION: "service.version",
  DEPLOYMENT_ENVIRONMENT_NAME: "deployment.environment.name",
} as const;

/** Enum values, one list per enumerated attribute. */
export const AUTH_OUTCOME = { SUCCESS: "success", FAILURE: "failure" } as const;
export type AuthOutcome = (typeof AUTH_OUTCOME)[keyof typeof AUTH_OUTCOME];

export const AUTH_FAILURE_REASON = {
  INVALID_CREDENTIALS: "invalid_credentials",
  UNKNOWN_USER: "unknown_user",
  ACCOUNT_LOCKED: "account_locked",
  ACCOUNT_DISABLED: "account_disabled",
  MFA_REQUIRED: "mfa_required",
  MFA_FAILED: "mfa_failed",
  PASSWORD_EXPIRED: "password_expired",
  OTHER: "other",
} as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASON)[keyof typeof AUTH_FAILURE_REASON];

export const AUTH_METHOD = {
  PASSWORD: "password",
  OAUTH: "oauth",
  OIDC: "oidc",
  SAML: "saml",
  API_KEY: "api_key",
  WEBAUTHN: "webauthn",
  MAGIC_LINK: "magic_link",
  OTHER: "other",
} as const;
export type AuthMethod = (typeof AUTH_METHOD)[keyof typeof AUTH_METHOD];

export const AUTH_LOGOUT_REASON = {
  USER: "user",
  TIMEOUT: "timeout",
  REVOKED: "revoked",
  OTHER: "other",
} as const;
export type AuthLogoutReason = (typeof AUTH_LOGOUT_REASON)[keyof typeof AUTH_LOGOUT_REASON];

export const AUTH_MFA_METHOD = {
  TOTP: "totp",
  SMS: "sms",
  EMAIL: "email",
  PUSH: "push",
  WEBAUTHN: "webauthn",
  RECOVERY_CODE: "recovery_code",
  OTHER: "other",
} as const;
export type AuthMfaMethod = (typeof AUTH_MFA_METHOD)[keyof typeof AUTH_MFA_METHOD];

export const AUTH_RESET_STAGE = { REQUESTED: "requested", COMPLETED: "completed" } as const;
export type AuthResetStage = (typeof AUTH_RESET_STAGE)[keyof typeof AUTH_RESET_STAGE];

export const AUTH_LOCK_REASON = {
  TOO_MANY_FAILURES: "too_many_failures",
  ADMIN: "admin",
  SUSPICIOUS_ACTIVITY: "suspicious_activity",
  OTHER: "other",
} as const;
export type AuthLockReason = (typeof AUTH_LOCK_REASON)[keyof typeof AUTH_LOCK_REASON];

export const ACCOUNT_CHANGE_TYPE = {
  CREATED: "created",
  DELETED: "deleted",
  EMAIL_CHANGED: "email_changed",
  ROLE_GRANTED: "role_granted",
  ROLE_REVOKED: "role_revoked",
  DISABLED: "disabled",
  ENABLED: "enabled",
  OTHER: "other",
} as const;
export type AccountChangeType = (typeof ACCOUNT_CHANGE_TYPE)[keyof typeof ACCOUNT_CHANGE_TYPE];

export const AUTHZ_DECISION = { ALLOW: "allow", DENY: "deny" } as const;
export type AuthzDecision = (typeof AUTHZ_DECISION)[keyof typeof AUTHZ_DECISION];

export const INPUT_RULE = {
  TYPE: "type",
  LENGTH: "length",
  FORMAT: "format",
  SQLI: "sqli",
  XSS: "xss",
  PATH_TRAVERSAL: "path_traversal",
  COMMAND_INJECTION: "command_injection",
  OTHER: "other",
} as const;
export type InputRule = (typeof INPUT_RULE)[keyof typeof INPUT_RULE];

export const DATA_OPERATION = { READ: "read", EXPORT: "export", UPDATE: "update", DELETE: "delete" } as const;
export type DataOperation = (typeof DATA_OPERATION)[keyof typeof DATA_OPERATION];

/** OpenTelemetry severity numbers used by security events. */
export const SEVERITY = {
  /** Successes and allowed decisions. */
  INFO: { number: 9, text: "INFO" },
  /** Failures, denials and rejected input. */
  WARN: { number: 13, text: "WARN" },
  /** The instrumentation's own faults only. */
  ERROR: { number: 17, text: "ERROR" },
} as const;

/** Alert severities (spec: alerts.md), most severe first. */
export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Alert statuses (spec: alerts.md). */
export const ALERT_STATUSES = ["new", "investigating", "resolved", "false_positive"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Responses a rule may ask the services to carry out. */
export const RESPONSE_ACTIONS = [
  "block_ip",
  "require_captcha",
  "rate_limit",
  "throttle_user",
  "suspend_user",
  "revoke_sessions",
] as const;
export type ResponseAction = (typeof RESPONSE_ACTIONS)[number];

/** Webhook event types (spec: alerts.md). */
export const ALERT_EVENT_TYPES = ["alert.created", "alert.updated", "alert.status_changed"] as const;
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

/** Event name of the log records the detector exports for alerts. */
export const ALERT_LOG_EVENT_NAME = "secmon.alert";
