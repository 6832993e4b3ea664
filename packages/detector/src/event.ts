/**
 * The detector's in-memory form of one security event: one OTLP LogRecord after decoding and
 * normalisation (spec: security-events.md, "How the detector treats what it receives").
 */

/** An attribute value as received. OTLP int64 becomes a number; arrays keep their element types. */
export type Scalar = string | number | boolean;
export type AttrValue = Scalar | readonly Scalar[];
export type Attributes = Record<string, AttrValue>;

export interface SecurityEvent {
  /** `EventName`, or the `event.name` attribute when the field is empty. */
  readonly name: string;
  /** Event time in ms since the epoch: `time_unix_nano`, else `observed_time_unix_nano`, else arrival. */
  readonly time: number;
  /** Resource `service.name` (`unknown_service` when the sender set none). */
  readonly service: string;
  /** The record's attributes (not the resource's). */
  readonly attributes: Attributes;
  /** Resource attributes, shared by all records of one ResourceLogs (do not mutate). */
  readonly resource: Attributes;
  readonly severityNumber?: number;
  readonly severityText?: string;
  /** Body when it is a string; other body types are rendered as JSON text. */
  readonly body?: string;
  /** Lowercase hex, absent when all-zero or missing. */
  readonly traceId?: string;
  readonly spanId?: string;
}

/** Why a record was rejected; bounded set, used as a metric label. */
export const REJECT_REASONS = [
  "invalid_attribute",
  "invalid_timestamp",
  "invalid_event_name",
  "too_many_attributes",
  "value_too_long",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The outcome of decoding one OTLP request. */
export interface DecodedBatch {
  readonly events: SecurityEvent[];
  /** Records that carry no event name: not security events, counted and dropped. */
  readonly ignored: number;
  /** Records that are security events but malformed, by reason. */
  readonly rejected: Partial<Record<RejectReason, number>>;
  /** The first rejection's explanation, for OTLP partial success `error_message`. */
  readonly rejectMessage?: string;
  /**
   * Events that carried neither `time_unix_nano` nor `observed_time_unix_nano` and are dated at
   * arrival: the request's bytes do not say when they happened, so the same bytes sent again
   * are new events, not a retry (absent when 0).
   */
  readonly arrivalDated?: number;
}
