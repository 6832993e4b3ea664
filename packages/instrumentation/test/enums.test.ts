/**
 * Enum fields: the spec's values pass, anything else becomes what the README's table says, and
 * that agrees with the spec's lists (semconv mirrors them): `other` exactly where the spec has it.
 */
import {
  ACCOUNT_CHANGE_TYPE,
  ATTR,
  AUTH_FAILURE_REASON,
  AUTH_LOCK_REASON,
  AUTH_LOGOUT_REASON,
  AUTH_METHOD,
  AUTH_MFA_METHOD,
  AUTH_OUTCOME,
  AUTH_RESET_STAGE,
  AUTHZ_DECISION,
  DATA_OPERATION,
  EVENT,
  INPUT_RULE,
  SEVERITY,
} from "@secmon/semconv";
import { afterEach, describe, expect, it } from "vitest";
import type { SecurityEvents } from "../src/types.ts";
import { readmeTable, unquote } from "./helpers/readme.ts";
import { memoryLogs, MINIMAL_INPUTS } from "./helpers/sdk.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

/** The spec's values of each enum attribute (undefined: not a secmon enum, OTel's own registry). */
const SPEC_VALUES: Record<string, Record<string, string> | undefined> = {
  [ATTR.AUTH_METHOD]: AUTH_METHOD,
  [ATTR.AUTH_FAILURE_REASON]: AUTH_FAILURE_REASON,
  [ATTR.AUTH_LOGOUT_REASON]: AUTH_LOGOUT_REASON,
  [ATTR.AUTH_MFA_METHOD]: AUTH_MFA_METHOD,
  [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME,
  [ATTR.AUTH_RESET_STAGE]: AUTH_RESET_STAGE,
  [ATTR.AUTH_LOCK_REASON]: AUTH_LOCK_REASON,
  [ATTR.ACCOUNT_CHANGE_TYPE]: ACCOUNT_CHANGE_TYPE,
  [ATTR.AUTHZ_DECISION]: AUTHZ_DECISION,
  [ATTR.INPUT_RULE]: INPUT_RULE,
  [ATTR.DATA_OPERATION]: DATA_OPERATION,
  [ATTR.HTTP_REQUEST_METHOD]: undefined,
};

interface Row {
  readonly fields: readonly [keyof SecurityEvents, string][];
  readonly attribute: string;
  /** The value an unknown input becomes, or undefined when the attribute is left out. */
  readonly unknown: string | undefined;
}

function readmeRows(): Row[] {
  return readmeTable("enums:unknown").map(([fields, attribute, becomes]) => ({
    fields: fields!.split(",").map((field) => {
      const [method, name] = unquote(field.trim()).split(".");
      return [method as keyof SecurityEvents, name!];
    }),
    attribute: unquote(attribute!),
    unknown: becomes === "left out" ? undefined : /^`([^`]+)`/.exec(becomes!)![1],
  }));
}

const rows = readmeRows();
let logs: MemoryLogs;
afterEach(async () => {
  await logs?.shutdown();
});

/** The attributes of the one record `method` emits with `field` set to `value`. */
function emitWith(method: keyof SecurityEvents, field: string, value: unknown) {
  logs.exporter.reset();
  (logs.events[method] as (input: unknown) => void)({ ...MINIMAL_INPUTS[method], [field]: value });
  const records = logs.exporter.getFinishedLogRecords();
  expect(records, `${method}.${field}`).toHaveLength(1);
  return records[0]!;
}

describe("README table of enum fields", () => {
  it("covers every enum attribute the events send", () => {
    expect(rows.map((row) => row.attribute).sort()).toEqual(Object.keys(SPEC_VALUES).sort());
  });

  it("agrees with the spec: `other` exactly where the spec lists it, else a spec value or left out", () => {
    for (const row of rows) {
      const values = SPEC_VALUES[row.attribute];
      if (values === undefined) continue;
      const hasOther = Object.values(values).includes("other");
      if (hasOther) expect(row.unknown, row.attribute).toBe("other");
      else if (row.unknown !== undefined) expect(Object.values(values), row.attribute).toContain(row.unknown);
    }
  });
});

describe("enum fields", () => {
  for (const row of rows) {
    for (const [method, field] of row.fields) {
      it(`${method}.${field}: spec values pass, anything else becomes ${row.unknown ?? "nothing"}`, () => {
        logs = memoryLogs();
        for (const value of Object.values(SPEC_VALUES[row.attribute] ?? { get: "GET", patch: "PATCH" })) {
          expect(emitWith(method, field, value).attributes[row.attribute]).toBe(value);
        }
        for (const unknown of ["not-a-spec-value", "Other", 42]) {
          const record = emitWith(method, field, unknown);
          if (row.unknown === undefined) expect(record.attributes).not.toHaveProperty(row.attribute);
          else expect(record.attributes[row.attribute]).toBe(row.unknown);
          expect(JSON.stringify(record)).not.toContain("not-a-spec-value");
        }
      });
    }
  }

  it("a password reset of an unknown stage is still sent, and its body claims no stage", () => {
    logs = memoryLogs();
    const ok = emitWith("passwordReset", "stage", "started");
    expect(ok.eventName).toBe(EVENT.AUTH_PASSWORD_RESET);
    expect(ok.body).toBe("password reset step succeeded");
    expect(ok.severityNumber).toBe(SEVERITY.INFO.number);
    logs.exporter.reset();
    (logs.events.passwordReset as (input: unknown) => void)({ stage: "started", outcome: "failure" });
    const failed = logs.exporter.getFinishedLogRecords()[0]!;
    expect(failed.body).toBe("password reset step failed");
    expect(failed.attributes).not.toHaveProperty(ATTR.AUTH_RESET_STAGE);
    expect(emitWith("passwordReset", "stage", "completed").body).toBe("password reset completed");
  });

  it("data access of an unknown operation is still sent, without data.operation", () => {
    logs = memoryLogs();
    const record = emitWith("dataAccess", "operation", "copy");
    expect(record.eventName).toBe(EVENT.DATA_ACCESS);
    expect(record.body).toBe("data access");
    expect(record.attributes[ATTR.DATA_RESOURCE]).toBe("r");
  });
});
