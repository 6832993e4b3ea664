/** Types shared between the modules of this package; not part of the public API. */
import type { ServerResponse } from "node:http";
import type { AnyValue } from "@opentelemetry/api-logs";
import type { LogRecord } from "@opentelemetry/api-logs";

/** What the events need of a Logger (api-logs and the stable api logs share this shape). */
export interface EmitLogger {
  emit(record: LogRecord): void;
}

/** A Logger that can tell whether a provider stands behind it. */
export interface ProbeLogger extends EmitLogger {
  enabled(options?: { eventName?: string }): boolean;
}

/** Attributes under construction. */
export type MutableAttributes = Record<string, AnyValue>;

/** Per-response bookkeeping of the HTTP integrations. */
export interface ResponseTracking {
  /** `performance.now()` when the request reached the instrumentation. */
  readonly start: number;
  /** Body bytes handed to the socket so far. */
  bytes: number;
  /** Set once the `api.request` event for this response has been emitted (or given up on). */
  done: boolean;
  /** The response's `write` and `end` before the instrumentation wrapped them. */
  readonly write: (...args: unknown[]) => boolean;
  readonly end: (...args: unknown[]) => unknown;
  /** Called once, when the response is complete or the client went away. */
  readonly finish: (tracking: ResponseTracking, response: ServerResponse, aborted: boolean) => void;
  /** Framework request object, for `finish`. */
  readonly request: unknown;
  /** Client address, taken when the request arrived (the socket may be gone when it closes). */
  readonly clientAddress: string | undefined;
}
