/**
 * The detector's table of error codes. Each code has a fixed meaning, a retryable flag and the
 * gRPC / HTTP status a receiver answers with. Codes are never reused or renamed.
 */

export const GRPC_STATUS = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface ErrorSpec {
  readonly message: string;
  readonly retryable: boolean;
  readonly grpc: number;
  readonly http: number;
}

export const ERROR_CODES = {
  CONFIG_INVALID: {
    message: "The configuration is invalid",
    retryable: false,
    grpc: GRPC_STATUS.INTERNAL,
    http: 500,
  },
  CONFIG_SECRET_MISSING: {
    message: "A secret named in the configuration could not be read",
    retryable: false,
    grpc: GRPC_STATUS.INTERNAL,
    http: 500,
  },
  RULE_INVALID: {
    message: "A rule file is invalid",
    retryable: false,
    grpc: GRPC_STATUS.INTERNAL,
    http: 500,
  },
  OTLP_MALFORMED: {
    message: "The request body is not a valid OTLP ExportLogsServiceRequest",
    retryable: false,
    grpc: GRPC_STATUS.INVALID_ARGUMENT,
    http: 400,
  },
  OTLP_UNSUPPORTED_MEDIA_TYPE: {
    message: "Content-Type must be application/x-protobuf or application/json",
    retryable: false,
    grpc: GRPC_STATUS.INVALID_ARGUMENT,
    http: 415,
  },
  OTLP_UNSUPPORTED_ENCODING: {
    message: "Content-Encoding must be gzip or identity",
    retryable: false,
    grpc: GRPC_STATUS.INVALID_ARGUMENT,
    http: 415,
  },
  OTLP_TOO_LARGE: {
    message: "The request exceeds the configured size limit",
    retryable: false,
    grpc: GRPC_STATUS.RESOURCE_EXHAUSTED,
    http: 413,
  },
  AUTH_REQUIRED: {
    message: "A valid bearer token is required",
    retryable: false,
    grpc: GRPC_STATUS.UNAUTHENTICATED,
    http: 401,
  },
  INGEST_OVERLOADED: {
    message: "The detector is at capacity; retry later",
    retryable: true,
    grpc: GRPC_STATUS.UNAVAILABLE,
    http: 503,
  },
  STORE_UNAVAILABLE: {
    message: "The state store is unavailable; retry later",
    retryable: true,
    grpc: GRPC_STATUS.UNAVAILABLE,
    http: 503,
  },
  SHUTTING_DOWN: {
    message: "The detector is shutting down; retry later",
    retryable: true,
    grpc: GRPC_STATUS.UNAVAILABLE,
    http: 503,
  },
  NOT_FOUND: { message: "Not found", retryable: false, grpc: GRPC_STATUS.INVALID_ARGUMENT, http: 404 },
  BAD_REQUEST: {
    message: "The request is invalid",
    retryable: false,
    grpc: GRPC_STATUS.INVALID_ARGUMENT,
    http: 400,
  },
  CONFLICT: {
    message: "The resource was changed concurrently",
    retryable: true,
    grpc: GRPC_STATUS.UNAVAILABLE,
    http: 409,
  },
  INTERNAL: { message: "Internal error", retryable: false, grpc: GRPC_STATUS.INTERNAL, http: 500 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of the detector. `detail` is safe to return to a client. */
export class SecmonError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly grpcStatus: number;
  readonly httpStatus: number;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = ERROR_CODES[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, options);
    this.name = "SecmonError";
    this.code = code;
    this.retryable = spec.retryable;
    this.grpcStatus = spec.grpc;
    this.httpStatus = spec.http;
  }
}

/** Any thrown value as a SecmonError (unknown errors become INTERNAL). */
export function asSecmonError(err: unknown): SecmonError {
  if (err instanceof SecmonError) return err;
  return new SecmonError("INTERNAL", undefined, { cause: err });
}
