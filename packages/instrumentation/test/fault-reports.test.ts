/** What a fault report says about the event: only what really became of it. */
import type { LoggerProvider } from "@opentelemetry/api-logs";
import { EVENT } from "@secmon/semconv";
import { expect, it } from "vitest";
import { createSecurityEvents } from "../src/events.ts";
import { reportFault } from "../src/faults.ts";
import { captureDiagErrors } from "./helpers/diag.ts";
import { memoryLogs, TEST_SECRET } from "./helpers/sdk.ts";

const errors = captureDiagErrors();

const unreadable = new Proxy(
  {},
  {
    ownKeys() {
      throw new Error("no keys for you");
    },
  },
);

it("unreadable metadata: the report says the event was sent without it, not that it was dropped", async () => {
  const logs = memoryLogs();
  logs.events.logout({ userId: "u1", metadata: unreadable });
  expect(logs.records(EVENT.AUTH_LOGOUT)).toHaveLength(1);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(
    /metadata scrub failed .*; the event was sent without \(the rest of\) its metadata;/,
  );
  expect(errors[0]).not.toMatch(/dropped/);
  await logs.shutdown();
});

it("a failing emit: the report says the event was dropped", () => {
  const throwing = {
    getLogger: () => ({
      emit: () => {
        throw new Error("exporter exploded");
      },
      enabled: () => true,
    }),
  } as unknown as LoggerProvider;
  const events = createSecurityEvents({
    hashSecret: TEST_SECRET,
    environment: "production",
    loggerProvider: throwing,
  });
  events.logout({});
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(
    /security event logout failed .*; the event was dropped; the application went on$/,
  );
});

it("a report without a stated consequence claims nothing about the event", () => {
  reportFault("something", new Error("x"));
  expect(errors).toEqual([
    "@secmon/instrumentation: something failed (fault 1 of this kind); the application went on",
  ]);
});
