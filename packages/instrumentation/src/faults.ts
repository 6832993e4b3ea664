import { diag } from "@opentelemetry/api";

const counts = new Map<string, number>();
/** Faults of one kind reported in full before the reports thin out to one in `THIN_OUT`. */
const REPORT_FIRST = 10;
const THIN_OUT = 1000;

/**
 * Reports a fault of the instrumentation through OpenTelemetry `diag` and never throws: the host
 * application goes on. `consequence` says what became of the event ("the event was dropped", "the
 * event was sent without its metadata"); without it the report claims nothing about the event.
 * Repeated faults of one kind thin out so that a broken exporter cannot flood the log.
 */
export function reportFault(where: string, error: unknown, consequence?: string): void {
  try {
    const count = (counts.get(where) ?? 0) + 1;
    counts.set(where, count);
    if (count <= REPORT_FIRST || count % THIN_OUT === 0) {
      const outcome = consequence === undefined ? "" : `; ${consequence}`;
      diag.error(
        `@secmon/instrumentation: ${where} failed (fault ${count} of this kind)${outcome}; the application went on`,
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
