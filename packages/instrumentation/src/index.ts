export { createSecurityEvents } from "./events.ts";
export { createExpressMiddleware } from "./express.ts";
export { secmonFastify } from "./fastify.ts";
export { defaultFailureReason, instrumentStrategy } from "./passport.ts";
export type { StrategyLike } from "./passport.ts";
export {
  DEVELOPMENT_ENVIRONMENTS,
  HASH_SECRET_ENV,
  MIN_HASH_SECRET_BYTES,
  hashIdentifier,
  hashSessionId,
} from "./hash.ts";
export { INSTRUMENTATION_ERROR_CODES, InstrumentationConfigError } from "./errors.ts";
export type { InstrumentationErrorCode } from "./errors.ts";
export { INSTRUMENTATION_SCOPE } from "./logger.ts";
export { SCRUB_LIMITS, flattenMetadata, isSecretKey, looksLikeSecret } from "./scrub.ts";
export type {
  AccountChangeInput,
  AccountLockedInput,
  ApiRequestInput,
  AuthzDecisionInput,
  DataAccessInput,
  EventContext,
  ExpressMiddlewareOptions,
  FastifyOptions,
  InputValidationFailureInput,
  LoginFailureInput,
  LoginSuccessInput,
  LogoutInput,
  Metadata,
  MfaInput,
  PasswordChangeInput,
  PasswordResetInput,
  PassportOptions,
  RequestLike,
  SecurityEvents,
  SecurityEventsOptions,
  UserIdGetter,
} from "./types.ts";
