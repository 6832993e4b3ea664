/** Codes of the configuration errors thrown at start-up. Never reused. */
export const INSTRUMENTATION_ERROR_CODES = {
  /** No hash secret outside development and test. */
  HASH_SECRET_MISSING: "HASH_SECRET_MISSING",
  /** The hash secret is shorter than the minimum. */
  HASH_SECRET_TOO_SHORT: "HASH_SECRET_TOO_SHORT",
  /** The `hashSecret` option is neither a string nor a Uint8Array. */
  HASH_SECRET_INVALID: "HASH_SECRET_INVALID",
  /** An HTTP integration was given no `events` (the object createSecurityEvents returns). */
  EVENTS_MISSING: "EVENTS_MISSING",
} as const;
export type InstrumentationErrorCode =
  (typeof INSTRUMENTATION_ERROR_CODES)[keyof typeof INSTRUMENTATION_ERROR_CODES];

/**
 * A configuration error, thrown only at start-up (`createSecurityEvents`,
 * `createExpressMiddleware`) so that a misconfigured service fails fast. Emitting events never throws.
 */
export class InstrumentationConfigError extends Error {
  readonly code: InstrumentationErrorCode;

  constructor(code: InstrumentationErrorCode, message: string) {
    super(message);
    this.name = "InstrumentationConfigError";
    this.code = code;
  }
}
