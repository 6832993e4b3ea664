/** The README's tables and the code agree, both ways. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCRUB_LIMITS } from "../src/scrub.ts";
import type { SecurityEvents } from "../src/types.ts";
import { memoryLogs } from "./helpers/sdk.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** Cells of the markdown table after `<!-- marker -->`, header and separator removed. */
function table(marker: string): string[][] {
  const start = readme.indexOf(`<!-- ${marker} -->`);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of readme.slice(start).split("\n").slice(1)) {
    if (line.startsWith("|")) {
      rows.push(
        line
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim().replaceAll("`", "")),
      );
    } else if (rows.length > 0) break;
  }
  return rows.slice(2);
}

const MINIMAL: Record<keyof SecurityEvents, unknown> = {
  loginSuccess: {},
  loginFailure: { reason: "other" },
  logout: {},
  mfa: { outcome: "success", method: "totp" },
  passwordChange: { outcome: "success" },
  passwordReset: { stage: "requested" },
  accountLocked: { reason: "admin" },
  accountChange: { changeType: "created" },
  authzDecision: { decision: "allow" },
  inputValidationFailure: { rule: "xss" },
  dataAccess: { resource: "r", operation: "read" },
  apiRequest: { method: "GET", path: "/", durationSeconds: 0.1, statusCode: 200 },
};

describe("README parity", () => {
  it("lists every method with the event it emits, and nothing else", async () => {
    const logs = memoryLogs();
    const rows = table("events:table");
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(logs.events).sort());
    for (const [method, eventName] of rows) {
      logs.exporter.reset();
      (logs.events[method as keyof SecurityEvents] as (input: unknown) => void)(
        MINIMAL[method as keyof SecurityEvents],
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
