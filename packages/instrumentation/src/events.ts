import { isIP } from "node:net";
import { context, diag } from "@opentelemetry/api";
import type { LogRecord } from "@opentelemetry/api-logs";
import {
  ACCOUNT_CHANGE_TYPE,
  ATTR,
  AUTH_FAILURE_REASON,
  AUTH_LOCK_REASON,
  AUTH_LOGOUT_REASON,
  AUTH_METHOD,
  AUTH_MFA_METHOD,
  AUTH_OUTCOME,
  AUTH_RESET_STAGE,
  AUTHZ_DECISION,
  DATA_OPERATION,
  EVENT,
  INPUT_RULE,
  SEVERITY,
} from "@secmon/semconv";
import type { EventName } from "@secmon/semconv";
import { reportFault } from "./faults.ts";
import { hashIdentifier, hashSessionId, resolveHashKey } from "./hash.ts";
import type { EmitLogger, MutableAttributes } from "./internal-types.ts";
import { resolveLogger } from "./logger.ts";
import { cleanPath, cleanText, CleanTextCache, flattenMetadata } from "./scrub.ts";
import type {
  AccountChangeInput,
  AccountLockedInput,
  ApiRequestInput,
  AuthzDecisionInput,
  DataAccessInput,
  EventContext,
  InputValidationFailureInput,
  LoginFailureInput,
  LoginSuccessInput,
  LogoutInput,
  MfaInput,
  PasswordChangeInput,
  PasswordResetInput,
  SecurityEvents,
  SecurityEventsOptions,
} from "./types.ts";

/** Longest value kept for identifiers, permissions, resources and other short strings. */
const MAX_SHORT_TEXT = 256;
/** Longest User-Agent kept. */
const MAX_USER_AGENT = 512;
/** Items kept from `missingPermissions`. */
const MAX_PERMISSIONS = 32;

/** HTTP methods of the IANA registry; anything else is sent as `_OTHER` (OTel semconv). */
const HTTP_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "QUERY",
]);

type Severity = (typeof SEVERITY)[keyof typeof SEVERITY];

/** Maps enum value -> itself for the allowed values; unknown values fall back. */
function enumOf<T extends string, F>(values: Record<string, T>, fallback: F): (value: unknown) => T | F {
  const allowed = new Set<string>(Object.values(values));
  return (value) => (typeof value === "string" && allowed.has(value) ? (value as T) : fallback);
}

const failureReason = enumOf(AUTH_FAILURE_REASON, AUTH_FAILURE_REASON.OTHER);
const authMethod = enumOf(AUTH_METHOD, AUTH_METHOD.OTHER);
const logoutReason = enumOf(AUTH_LOGOUT_REASON, AUTH_LOGOUT_REASON.OTHER);
const mfaMethod = enumOf(AUTH_MFA_METHOD, AUTH_MFA_METHOD.OTHER);
const lockReason = enumOf(AUTH_LOCK_REASON, AUTH_LOCK_REASON.OTHER);
const changeType = enumOf(ACCOUNT_CHANGE_TYPE, ACCOUNT_CHANGE_TYPE.OTHER);
const inputRule = enumOf(INPUT_RULE, INPUT_RULE.OTHER);
/** Anything but an explicit success counts as a failure: the conservative reading. */
const outcomeOf = (value: unknown) =>
  value === AUTH_OUTCOME.SUCCESS ? AUTH_OUTCOME.SUCCESS : AUTH_OUTCOME.FAILURE;
/** Anything but an explicit allow counts as a deny. */
const decisionOf = (value: unknown) =>
  value === AUTHZ_DECISION.ALLOW ? AUTHZ_DECISION.ALLOW : AUTHZ_DECISION.DENY;
/**
 * `data.operation` and `auth.reset_stage` have no `other` in the spec: an unknown value is left out
 * (never sent as the caller's string, never as a value the spec does not list).
 */
const dataOperation = enumOf(DATA_OPERATION, undefined);
const resetStage = enumOf(AUTH_RESET_STAGE, undefined);

/** `invalid_credentials` -> `invalid credentials`, for bodies. */
const words = (value: string) => value.replaceAll("_", " ");

const LOGOUT_BODY: Record<string, string> = {
  user: "session ended by the user",
  timeout: "session timed out",
  revoked: "session revoked",
  other: "session ended",
};

/** Password reset bodies by stage (unknown: not one of the spec's) and outcome. */
const RESET_BODY: Record<string, string> = {
  "requested ok": "password reset requested",
  "requested failed": "password reset request failed",
  "completed ok": "password reset completed",
  "completed failed": "password reset completion failed",
  "unknown ok": "password reset step succeeded",
  "unknown failed": "password reset step failed",
};

function nonNegativeInt(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return undefined;
  return Math.trunc(value);
}

/**
 * Epoch milliseconds as the SDK's HrTime (`[seconds, nanoseconds]`), the form it keeps without
 * converting (a number goes through two type checks and a `performance.timeOrigin` lookup per
 * timestamp). Same arithmetic as the SDK's own conversion, so the exported times are identical.
 */
function epochMillisToHrTime(ms: number): [number, number] {
  const seconds = Math.trunc(ms / 1000);
  // `ms - seconds * 1000` is `ms % 1000` (same sign, exact) without a floating-point modulo
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/**
 * The SDK copies a record's attributes with `Object.entries`, which V8 runs several times faster
 * (about 100 → 20 ns per attribute on Node 24) once the object's hidden class has an enum cache.
 * `Object.entries` never fills that cache; a `for…in` does, once per shape, and costs a few
 * nanoseconds after that. Attributes of one event kind share a handful of shapes.
 */
function primeEnumCache(attributes: object): void {
  for (const _key in attributes) return;
}

/** A caller's event time, when usable (a valid Date or finite epoch milliseconds). */
function validTime(value: unknown): Date | number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  return value instanceof Date && Number.isFinite(value.getTime()) ? value : undefined;
}

function idText(value: unknown): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined;
  return cleanText(value, MAX_SHORT_TEXT);
}

/** The last address that passed {@link isIpAddress}: a connection's requests repeat it. */
let lastIpAddress = "";

/** True for an IPv4 or IPv6 address (remembers the last one that passed). */
function isIpAddress(value: string): boolean {
  if (value === lastIpAddress) return true;
  if (!checkIpAddress(value)) return false;
  lastIpAddress = value;
  return true;
}

/** IPv4 dotted quad, checked by hand (the hot path); anything with a colon goes to net.isIP. */
function checkIpAddress(value: string): boolean {
  if (value.includes(":")) return isIP(value) === 6;
  let parts = 0;
  let digits = 0;
  let octet = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i === value.length ? 46 : value.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || octet > 255 || (digits > 1 && value.charCodeAt(i - digits) === 48)) return false;
      parts++;
      digits = 0;
      octet = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      return false;
    }
  }
  return parts === 4;
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === "string" ? value : value?.[0];
}

/** The method as OTel semconv wants it: an IANA method in upper case, else `_OTHER`. */
function httpMethod(value: unknown): string {
  if (typeof value !== "string") return "_OTHER";
  // the usual case, without a hash lookup: Node hands out the same interned strings
  if (value === "GET" || value === "POST") return value;
  if (HTTP_METHODS.has(value)) return value;
  const upper = value.toUpperCase();
  return HTTP_METHODS.has(upper) ? upper : "_OTHER";
}

/** `answered <status>` per status code (100–999), built on first use: no number formatting per event. */
const ANSWERED = new Array<string | undefined>(1000).fill(undefined);

function answered(status: number | undefined): string {
  if (status === undefined) return "answered without status";
  return (ANSWERED[status] ??= `answered ${status}`);
}

/** A route template from a caller: a path pattern (`/users/:id`, `/files/*`), never a query. */
function isRouteTemplate(value: string): boolean {
  return (value.startsWith("/") || value === "*") && !value.includes("?") && !value.includes("#");
}

/**
 * Builds the security-event emitter. Validates the configuration once and throws an
 * {@link InstrumentationConfigError} when it is unusable (no hash secret outside development and
 * test); after that, no method ever throws.
 */
export function createSecurityEvents(options: SecurityEventsOptions = {}): SecurityEvents {
  const hashKey = resolveHashKey(options.hashSecret, options.environment, process.env);
  if (hashKey.development) {
    diag.warn(
      `@secmon/instrumentation: no hash secret configured; environment "${hashKey.environment}" uses the ` +
        "public DEVELOPMENT key, so user.hash and session.id are not pseudonymous. Set the `hashSecret` " +
        "option or SECMON_HASH_SECRET before deploying.",
    );
  }
  const key = hashKey.key;
  const logger: EmitLogger = resolveLogger(options.loggerProvider);
  const includeUserName = options.includeUserName === true;
  const clock = options.clock ?? Date.now;
  // User-Agents and route templates repeat from request to request: scrub each once
  const userAgents = new CleanTextCache(MAX_USER_AGENT);
  const routes = new CleanTextCache(MAX_SHORT_TEXT, isRouteTemplate);

  /** Attributes every event shares, from the caller's context. */
  function baseAttributes(input: EventContext): MutableAttributes {
    const attributes: MutableAttributes = {};
    const request = input.request;
    const address = input.clientAddress ?? request?.ip;
    if (typeof address === "string" && address !== "" && isIpAddress(address)) {
      attributes[ATTR.CLIENT_ADDRESS] = address;
    }
    const userAgent = userAgents.get(input.userAgent ?? headerValue(request?.headers?.["user-agent"]));
    if (userAgent !== undefined) attributes[ATTR.USER_AGENT_ORIGINAL] = userAgent;
    if (input.userId !== undefined && input.userId !== null) {
      const userId = idText(input.userId);
      if (userId !== undefined) attributes[ATTR.USER_ID] = userId;
    }
    const identifier = input.identifier;
    if (typeof identifier === "string" && identifier.trim() !== "") {
      attributes[ATTR.USER_HASH] = hashIdentifier(key, identifier);
      if (includeUserName) {
        const name = cleanText(identifier.trim(), MAX_SHORT_TEXT);
        if (name !== undefined) attributes[ATTR.USER_NAME] = name;
      }
    }
    if (typeof input.sessionId === "string" && input.sessionId !== "") {
      attributes[ATTR.SESSION_ID] = hashSessionId(key, input.sessionId);
    }
    if (input.metadata !== undefined) {
      try {
        flattenMetadata(input.metadata, attributes);
      } catch (error) {
        reportFault("metadata scrub", error, "the event was sent without (the rest of) its metadata");
      }
    }
    return attributes;
  }

  function emit(
    eventName: EventName,
    severity: Severity,
    body: string,
    attributes: MutableAttributes,
    time: Date | number | undefined,
  ): void {
    primeEnumCache(attributes);
    const now = epochMillisToHrTime(clock());
    const record: LogRecord = {
      eventName,
      severityNumber: severity.number,
      severityText: severity.text,
      body,
      attributes,
      timestamp: validTime(time) ?? [now[0], now[1]],
      observedTimestamp: now,
      context: context.active(),
    };
    logger.emit(record);
  }

  /** Wraps a method so that nothing it does can throw into the application. */
  function guarded<I>(name: string, build: (input: I) => void): (input: I) => void {
    const where = `security event ${name}`;
    return (input: I) => {
      try {
        build(input ?? ({} as I));
      } catch (error) {
        reportFault(where, error, "the event was dropped");
      }
    };
  }

  const loginSuccess = guarded<LoginSuccessInput>("loginSuccess", (input) => {
    const attributes = baseAttributes(input);
    attributes[ATTR.AUTH_OUTCOME] = AUTH_OUTCOME.SUCCESS;
    attributes[ATTR.AUTH_METHOD] =
      input.method === undefined ? AUTH_METHOD.PASSWORD : authMethod(input.method);
    emit(EVENT.AUTH_LOGIN, SEVERITY.INFO, "login succeeded", attributes, input.time);
  });

  const loginFailure = guarded<LoginFailureInput>("loginFailure", (input) => {
    const attributes = baseAttributes(input);
    const reason = failureReason(input.reason);
    attributes[ATTR.AUTH_OUTCOME] = AUTH_OUTCOME.FAILURE;
    attributes[ATTR.AUTH_FAILURE_REASON] = reason;
    attributes[ATTR.AUTH_METHOD] =
      input.method === undefined ? AUTH_METHOD.PASSWORD : authMethod(input.method);
    emit(EVENT.AUTH_LOGIN, SEVERITY.WARN, `login failed: ${words(reason)}`, attributes, input.time);
  });

  const logout = guarded<LogoutInput>("logout", (input) => {
    const attributes = baseAttributes(input);
    const reason = input.reason === undefined ? AUTH_LOGOUT_REASON.USER : logoutReason(input.reason);
    attributes[ATTR.AUTH_LOGOUT_REASON] = reason;
    emit(EVENT.AUTH_LOGOUT, SEVERITY.INFO, LOGOUT_BODY[reason] ?? "session ended", attributes, input.time);
  });

  const mfa = guarded<MfaInput>("mfa", (input) => {
    const attributes = baseAttributes(input);
    const outcome = outcomeOf(input.outcome);
    const method = mfaMethod(input.method);
    attributes[ATTR.AUTH_OUTCOME] = outcome;
    attributes[ATTR.AUTH_MFA_METHOD] = method;
    const ok = outcome === AUTH_OUTCOME.SUCCESS;
    const body = `second factor ${ok ? "accepted" : "rejected"} (${words(method)})`;
    emit(EVENT.AUTH_MFA, ok ? SEVERITY.INFO : SEVERITY.WARN, body, attributes, input.time);
  });

  const passwordChange = guarded<PasswordChangeInput>("passwordChange", (input) => {
    const attributes = baseAttributes(input);
    const outcome = outcomeOf(input.outcome);
    attributes[ATTR.AUTH_OUTCOME] = outcome;
    const ok = outcome === AUTH_OUTCOME.SUCCESS;
    const body = ok ? "password changed" : "password change failed";
    emit(EVENT.AUTH_PASSWORD_CHANGE, ok ? SEVERITY.INFO : SEVERITY.WARN, body, attributes, input.time);
  });

  const passwordReset = guarded<PasswordResetInput>("passwordReset", (input) => {
    const attributes = baseAttributes(input);
    const outcome = input.outcome === undefined ? AUTH_OUTCOME.SUCCESS : outcomeOf(input.outcome);
    const stage = resetStage(input.stage);
    if (stage !== undefined) attributes[ATTR.AUTH_RESET_STAGE] = stage;
    attributes[ATTR.AUTH_OUTCOME] = outcome;
    const ok = outcome === AUTH_OUTCOME.SUCCESS;
    const body = RESET_BODY[`${stage ?? "unknown"} ${ok ? "ok" : "failed"}`] as string;
    emit(EVENT.AUTH_PASSWORD_RESET, ok ? SEVERITY.INFO : SEVERITY.WARN, body, attributes, input.time);
  });

  const accountLocked = guarded<AccountLockedInput>("accountLocked", (input) => {
    const attributes = baseAttributes(input);
    const reason = lockReason(input.reason);
    attributes[ATTR.AUTH_LOCK_REASON] = reason;
    emit(
      EVENT.AUTH_ACCOUNT_LOCKED,
      SEVERITY.WARN,
      `account locked: ${words(reason)}`,
      attributes,
      input.time,
    );
  });

  const accountChange = guarded<AccountChangeInput>("accountChange", (input) => {
    const attributes = baseAttributes(input);
    const type = changeType(input.changeType);
    attributes[ATTR.ACCOUNT_CHANGE_TYPE] = type;
    const target = input.targetUserId === undefined ? undefined : idText(input.targetUserId);
    if (target !== undefined) attributes[ATTR.ACCOUNT_TARGET_USER_ID] = target;
    emit(EVENT.ACCOUNT_CHANGE, SEVERITY.INFO, `account changed: ${words(type)}`, attributes, input.time);
  });

  const authzDecision = guarded<AuthzDecisionInput>("authzDecision", (input) => {
    const attributes = baseAttributes(input);
    const decision = decisionOf(input.decision);
    attributes[ATTR.AUTHZ_DECISION] = decision;
    const permission = cleanText(input.permission, MAX_SHORT_TEXT);
    if (permission !== undefined) attributes[ATTR.AUTHZ_PERMISSION] = permission;
    if (Array.isArray(input.missingPermissions)) {
      const missing: string[] = [];
      for (const item of input.missingPermissions.slice(0, MAX_PERMISSIONS)) {
        const text = cleanText(item, MAX_SHORT_TEXT);
        if (text !== undefined) missing.push(text);
      }
      attributes[ATTR.AUTHZ_MISSING_PERMISSIONS] = missing;
    }
    const resource = cleanText(input.resource, MAX_SHORT_TEXT);
    if (resource !== undefined) attributes[ATTR.AUTHZ_RESOURCE] = resource;
    const allowed = decision === AUTHZ_DECISION.ALLOW;
    const body = allowed ? "access allowed" : "access denied";
    emit(EVENT.AUTHZ_DECISION, allowed ? SEVERITY.INFO : SEVERITY.WARN, body, attributes, input.time);
  });

  const inputValidationFailure = guarded<InputValidationFailureInput>("inputValidationFailure", (input) => {
    const attributes = baseAttributes(input);
    const rule = inputRule(input.rule);
    const field = cleanText(input.field, MAX_SHORT_TEXT);
    if (field !== undefined) attributes[ATTR.INPUT_FIELD] = field;
    attributes[ATTR.INPUT_RULE] = rule;
    const route = routes.get(input.route);
    if (route !== undefined) attributes[ATTR.HTTP_ROUTE] = route;
    const path = cleanPath(input.path);
    if (path !== undefined) attributes[ATTR.URL_PATH] = path;
    emit(
      EVENT.INPUT_VALIDATION_FAILURE,
      SEVERITY.WARN,
      `input rejected: ${words(rule)}`,
      attributes,
      input.time,
    );
  });

  const dataAccess = guarded<DataAccessInput>("dataAccess", (input) => {
    const attributes = baseAttributes(input);
    const resource = cleanText(input.resource, MAX_SHORT_TEXT);
    if (resource !== undefined) attributes[ATTR.DATA_RESOURCE] = resource;
    const operation = dataOperation(input.operation);
    if (operation !== undefined) attributes[ATTR.DATA_OPERATION] = operation;
    const records = nonNegativeInt(input.recordCount);
    if (records !== undefined) attributes[ATTR.DATA_RECORD_COUNT] = records;
    const bytes = nonNegativeInt(input.bytes);
    if (bytes !== undefined) attributes[ATTR.DATA_BYTES] = bytes;
    emit(EVENT.DATA_ACCESS, SEVERITY.INFO, `data ${operation ?? "access"}`, attributes, input.time);
  });

  const apiRequest = guarded<ApiRequestInput>("apiRequest", (input) => {
    const attributes = baseAttributes(input);
    const method = httpMethod(input.method);
    attributes[ATTR.HTTP_REQUEST_METHOD] = method;
    const route = routes.get(input.route);
    if (route !== undefined) attributes[ATTR.HTTP_ROUTE] = route;
    const path = cleanPath(input.path);
    if (path !== undefined) attributes[ATTR.URL_PATH] = path;
    const status = nonNegativeInt(input.statusCode);
    const validStatus = status !== undefined && status >= 100 && status <= 999 ? status : undefined;
    if (validStatus !== undefined) attributes[ATTR.HTTP_RESPONSE_STATUS_CODE] = validStatus;
    const duration = input.durationSeconds;
    if (typeof duration === "number" && Number.isFinite(duration) && duration >= 0) {
      attributes[ATTR.HTTP_SERVER_REQUEST_DURATION] = duration;
    }
    const responseSize = nonNegativeInt(input.responseBodySize);
    if (responseSize !== undefined) attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] = responseSize;
    const requestSize = nonNegativeInt(input.requestBodySize);
    if (requestSize !== undefined) attributes[ATTR.HTTP_REQUEST_BODY_SIZE] = requestSize;
    const aborted = input.aborted === true;
    const failed = aborted || validStatus === undefined || validStatus >= 400;
    const outcome = aborted ? "aborted by the client" : answered(validStatus);
    const body = `${method} ${route ?? "(no route)"} ${outcome}`;
    emit(EVENT.API_REQUEST, failed ? SEVERITY.WARN : SEVERITY.INFO, body, attributes, input.time);
  });

  return Object.freeze({
    loginSuccess,
    loginFailure,
    logout,
    mfa,
    passwordChange,
    passwordReset,
    accountLocked,
    accountChange,
    authzDecision,
    inputValidationFailure,
    dataAccess,
    apiRequest,
  });
}
