import { diag } from "@opentelemetry/api";

const counts = new Map<string, number>();
/** Faults of one kind reported in full before the reports thin out to one in `THIN_OUT`. */
const REPORT_FIRST = 10;
const THIN_OUT = 1000;

/**
 * Reports a fault of the instrumentation through OpenTelemetry `diag` and never throws: the
 * host application goes on, the event is dropped. Repeated faults of one kind thin out so that a
 * broken exporter cannot flood the log.
 */
export function reportFault(where: string, error: unknown): void {
  try {
    const count = (counts.get(where) ?? 0) + 1;
    counts.set(where, count);
    if (count <= REPORT_FIRST || count % THIN_OUT === 0) {
      diag.error(
        `@secmon/instrumentation: ${where} failed (fault ${count} of this kind); the event was dropped and the application went on`,
        error,
      );
    }
  } catch {
    // diag itself failed: there is nowhere left to report to
  }
}

/** Forgets the counts, so that the next fault of each kind is reported in full (tests). */
export function resetFaultCounts(): void {
  counts.clear();
}
