/**
 * Public types of @secmon/instrumentation. Everything a service owner passes in or gets back is
 * declared here; implementation details live in internal-types.ts.
 */
import type { LoggerProvider } from "@opentelemetry/api-logs";
import type {
  AccountChangeType,
  AuthFailureReason,
  AuthLockReason,
  AuthLogoutReason,
  AuthMethod,
  AuthMfaMethod,
  AuthOutcome,
  AuthResetStage,
  AuthzDecision,
  DataOperation,
  InputRule,
} from "@secmon/semconv";

/** Free-form metadata. It is scrubbed and flattened (see README, "Metadata"); never trusted. */
export type Metadata = Readonly<Record<string, unknown>>;

/** The parts of an Express or Fastify request the events read (both frameworks fit this shape). */
export interface RequestLike {
  /** Client address after the framework's trusted-proxy handling (Express `req.ip`, Fastify `request.ip`). */
  readonly ip?: string | undefined;
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined;
}

/** Options of {@link createSecurityEvents}. */
export interface SecurityEventsOptions {
  /**
   * Key of the HMAC that pseudonymises identifiers (`user.hash`) and session ids (`session.id`).
   * At least 16 bytes (32 random bytes recommended: `openssl rand -hex 32`). Falls back to the
   * `SECMON_HASH_SECRET` environment variable when left out or empty. Required outside development
   * and test.
   */
  readonly hashSecret?: string | Uint8Array | undefined;
  /**
   * Deployment environment. `development`, `dev`, `local`, `test` and `testing` allow running
   * without a secret (a fixed, public development key is used and a diag warning is emitted).
   * Defaults to `NODE_ENV` and `deployment.environment.name` from `OTEL_RESOURCE_ATTRIBUTES`; when
   * neither is set the environment is treated as production.
   */
  readonly environment?: string | undefined;
  /** LoggerProvider to emit through. Default: the global one (`logs.setGlobalLoggerProvider`, NodeSDK). */
  readonly loggerProvider?: LoggerProvider | undefined;
  /** Also send the raw identifier as `user.name`. Off by default: only `user.hash` leaves the process. */
  readonly includeUserName?: boolean | undefined;
  /** Clock for event timestamps, milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: (() => number) | undefined;
}

/** Fields every event method accepts. All optional; absent fields produce no attribute. */
export interface EventContext {
  /** The request being served: `client.address` from `request.ip`, `user_agent.original` from its header. */
  readonly request?: RequestLike | undefined;
  /** Overrides the address taken from `request`. Must be an IPv4 or IPv6 address, or it is dropped. */
  readonly clientAddress?: string | undefined;
  /** Overrides the User-Agent taken from `request`. */
  readonly userAgent?: string | undefined;
  /** The application's stable user id (`user.id`), when the user is known. */
  readonly userId?: string | number | undefined;
  /** What the user typed to identify themselves (username, e-mail). Sent only as `user.hash`. */
  readonly identifier?: string | undefined;
  /** The session identifier. Sent only as its hash (`session.id`). */
  readonly sessionId?: string | undefined;
  /** Extra context; scrubbed of secrets, flattened under `secmon.metadata.`. */
  readonly metadata?: Metadata | undefined;
  /** When the event happened. Default: now. */
  readonly time?: Date | number | undefined;
}

export interface LoginSuccessInput extends EventContext {
  /** Default `password`. */
  readonly method?: AuthMethod | undefined;
}

export interface LoginFailureInput extends EventContext {
  /** Unknown values are sent as `other`. */
  readonly reason: AuthFailureReason;
  /** Default `password`. */
  readonly method?: AuthMethod | undefined;
}

export interface LogoutInput extends EventContext {
  /** Default `user`. */
  readonly reason?: AuthLogoutReason | undefined;
}

export interface MfaInput extends EventContext {
  readonly outcome: AuthOutcome;
  readonly method: AuthMfaMethod;
}

export interface PasswordChangeInput extends EventContext {
  readonly outcome: AuthOutcome;
}

export interface PasswordResetInput extends EventContext {
  readonly stage: AuthResetStage;
  /** Default `success`. */
  readonly outcome?: AuthOutcome | undefined;
}

export interface AccountLockedInput extends EventContext {
  readonly reason: AuthLockReason;
}

export interface AccountChangeInput extends EventContext {
  readonly changeType: AccountChangeType;
  /** The account acted on, when an administrator changes another user's account. */
  readonly targetUserId?: string | number | undefined;
}

export interface AuthzDecisionInput extends EventContext {
  readonly decision: AuthzDecision;
  /** What was asked for, e.g. `reports:export`. */
  readonly permission?: string | undefined;
  readonly missingPermissions?: readonly string[] | undefined;
  /** What it was asked for, e.g. `report/42`. */
  readonly resource?: string | undefined;
}

export interface InputValidationFailureInput extends EventContext {
  /** The rejected field, e.g. `id` or `body.email`. */
  readonly field?: string | undefined;
  readonly rule: InputRule;
  /** Route template (`/users/:id`). */
  readonly route?: string | undefined;
  /** Request path; the query string is never sent. */
  readonly path?: string | undefined;
}

export interface DataAccessInput extends EventContext {
  readonly resource: string;
  readonly operation: DataOperation;
  readonly recordCount?: number | undefined;
  readonly bytes?: number | undefined;
}

export interface ApiRequestInput extends EventContext {
  /** HTTP method; methods outside the HTTP registry are sent as `_OTHER`. */
  readonly method: string;
  /** Route template; absent when no route matched. */
  readonly route?: string | undefined;
  /** Request path; the query string is never sent. */
  readonly path: string;
  /** Absent when the client went away before a status line was sent. */
  readonly statusCode?: number | undefined;
  readonly durationSeconds: number;
  readonly responseBodySize?: number | undefined;
  readonly requestBodySize?: number | undefined;
  /** The client closed the connection before the response was complete. */
  readonly aborted?: boolean | undefined;
}

/**
 * One method per security event of the spec. Methods never throw: a fault is reported through
 * OpenTelemetry `diag` and the event is dropped. They are plain functions, safe to destructure.
 */
export interface SecurityEvents {
  /** `auth.login`, outcome `success` (INFO). */
  readonly loginSuccess: (input: LoginSuccessInput) => void;
  /** `auth.login`, outcome `failure` (WARN). */
  readonly loginFailure: (input: LoginFailureInput) => void;
  /** `auth.logout` (INFO). */
  readonly logout: (input: LogoutInput) => void;
  /** `auth.mfa` (INFO on success, WARN on failure). */
  readonly mfa: (input: MfaInput) => void;
  /** `auth.password_change` (INFO on success, WARN on failure). */
  readonly passwordChange: (input: PasswordChangeInput) => void;
  /** `auth.password_reset` (INFO on success, WARN on failure). */
  readonly passwordReset: (input: PasswordResetInput) => void;
  /** `auth.account_locked` (WARN). */
  readonly accountLocked: (input: AccountLockedInput) => void;
  /** `account.change` (INFO). */
  readonly accountChange: (input: AccountChangeInput) => void;
  /** `authz.decision` (INFO when allowed, WARN when denied). */
  readonly authzDecision: (input: AuthzDecisionInput) => void;
  /** `input.validation_failure` (WARN). */
  readonly inputValidationFailure: (input: InputValidationFailureInput) => void;
  /** `data.access` (INFO). */
  readonly dataAccess: (input: DataAccessInput) => void;
  /** `api.request` (INFO below 400, WARN from 400 and for aborted requests). */
  readonly apiRequest: (input: ApiRequestInput) => void;
}

/** Reads the application's user id from a request; called once the response is complete. */
export type UserIdGetter<Req> = (request: Req) => string | number | undefined | null;

/** Options of {@link createExpressMiddleware}. */
export interface ExpressMiddlewareOptions<Req = unknown> {
  readonly events: SecurityEvents;
  /** Default: `req.user?.id`. */
  readonly getUserId?: UserIdGetter<Req> | undefined;
}

/** Options of the Fastify plugin. */
export interface FastifyOptions<Req = unknown> {
  readonly events: SecurityEvents;
  /** Default: `request.user?.id`. */
  readonly getUserId?: UserIdGetter<Req> | undefined;
}

/** Options of {@link instrumentStrategy}. */
export interface PassportOptions {
  readonly events: SecurityEvents;
  /**
   * Request body (or query) field holding the identifier, dotted or bracketed for nested fields.
   * Default: the strategy's own `usernameField` (passport-local), else `username`.
   */
  readonly identifierField?: string | undefined;
  /** Default: `password` for `local`, `oauth` for `oauth`/`oauth2`, `oidc`, `saml`, else `other`. */
  readonly method?: AuthMethod | undefined;
  /** Maps the strategy's failure info (`fail(info)`) to a reason. Default: see README. */
  readonly failureReason?: ((info: unknown) => AuthFailureReason | undefined) | undefined;
  /** Reads the user id from the authenticated user. Default: `user.id`. */
  readonly getUserId?: ((user: unknown) => string | number | undefined | null) | undefined;
}
