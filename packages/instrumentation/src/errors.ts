/** Codes of the errors createSecurityEvents throws at start-up. Never reused. */
export const INSTRUMENTATION_ERROR_CODES = {
  /** No hash secret outside development and test. */
  HASH_SECRET_MISSING: "HASH_SECRET_MISSING",
  /** The hash secret is shorter than the minimum. */
  HASH_SECRET_TOO_SHORT: "HASH_SECRET_TOO_SHORT",
} as const;
export type InstrumentationErrorCode =
  (typeof INSTRUMENTATION_ERROR_CODES)[keyof typeof INSTRUMENTATION_ERROR_CODES];

/**
 * A configuration error, thrown only by `createSecurityEvents` at start-up so that a
 * misconfigured service fails fast. Emitting events never throws.
 */
export class InstrumentationConfigError extends Error {
  readonly code: InstrumentationErrorCode;

  constructor(code: InstrumentationErrorCode, message: string) {
    super(message);
    this.name = "InstrumentationConfigError";
    this.code = code;
  }
}
