import type { DecodedBatch } from "./event.ts";

/** Where a receiver hands a decoded request. */
export interface IngestContext {
  /** Stable id of the request (digest of its raw bytes), so a sender's retry can be recognised. */
  readonly batchId: string;
  readonly transport: "grpc" | "http" | "replay";
  /** Detector time (ms) at which the request arrived. */
  readonly receivedAt: number;
}

export interface Ingestor {
  /**
   * Resolves once the batch is evaluated and its state committed. Rejects with a SecmonError;
   * a retryable one (INGEST_OVERLOADED, STORE_UNAVAILABLE, SHUTTING_DOWN) becomes gRPC
   * UNAVAILABLE / HTTP 503 so that the sender keeps the data and retries.
   */
  ingest(batch: DecodedBatch, ctx: IngestContext): Promise<void>;
}
