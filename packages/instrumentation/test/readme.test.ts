/** The README's tables and the code agree, both ways. */
import { describe, expect, it } from "vitest";
import { SCRUB_LIMITS } from "../src/scrub.ts";
import type { SecurityEvents } from "../src/types.ts";
import { readmeTable, unquote } from "./helpers/readme.ts";
import { memoryLogs, MINIMAL_INPUTS } from "./helpers/sdk.ts";

/** Cells of the markdown table after `<!-- marker -->`, without backticks. */
const table = (marker: string) => readmeTable(marker).map((row) => row.map(unquote));

describe("README parity", () => {
  it("lists every method with the event it emits, and nothing else", async () => {
    const logs = memoryLogs();
    const rows = table("events:table");
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(logs.events).sort());
    for (const [method, eventName] of rows) {
      logs.exporter.reset();
      (logs.events[method as keyof SecurityEvents] as (input: unknown) => void)(
        MINIMAL_INPUTS[method as keyof SecurityEvents],
      );
      expect(logs.exporter.getFinishedLogRecords().map((r) => r.eventName)).toEqual([eventName]);
    }
    await logs.shutdown();
  });

  it("states the scrubber's limits as the code has them", () => {
    const rows = table("scrub:limits");
    expect(Object.fromEntries(rows.map(([name, value]) => [name, Number(value)]))).toEqual(SCRUB_LIMITS);
  });
});
