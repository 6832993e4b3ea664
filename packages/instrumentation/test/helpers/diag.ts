import { diag, DiagLogLevel } from "@opentelemetry/api";
import { afterEach, beforeEach } from "vitest";
import { resetFaultCounts } from "../../src/faults.ts";

/**
 * Collects what the instrumentation reports through OpenTelemetry `diag` at error level, emptied
 * (with the fault counters) before each test of the calling file.
 */
export function captureDiagErrors(): string[] {
  const errors: string[] = [];
  beforeEach(() => {
    errors.length = 0;
    resetFaultCounts();
    diag.setLogger(
      {
        error: (message) => errors.push(message),
        warn: () => undefined,
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true },
    );
  });
  afterEach(() => {
    diag.disable();
  });
  return errors;
}
