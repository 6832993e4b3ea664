import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as semconv from "../src/index.ts";

/**
 * The spec (../shared/spec/security-events.md beside the repository, or SECMON_SPEC_DIR) is the
 * source of truth; these tests keep the constants and the spec in step, both ways.
 */
const specDir =
  process.env.SECMON_SPEC_DIR ?? fileURLToPath(new URL("../../../../shared/spec/", import.meta.url));
const specPath = `${specDir}/security-events.md`;

function specText(): string {
  if (!existsSync(specPath)) {
    throw new Error(`spec not found at ${specPath}; set SECMON_SPEC_DIR to the folder of security-events.md`);
  }
  return readFileSync(specPath, "utf8");
}

/** Rows of the markdown table that follows the given heading. */
function tableRows(text: string, heading: string): string[][] {
  const start = text.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of text.slice(start).split("\n").slice(1)) {
    if (line.startsWith("|")) {
      rows.push(
        line
          .split(/(?<!\\)\|/)
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    } else if (rows.length > 0) break;
  }
  return rows.slice(2); // header and separator
}

const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe("semconv matches security-events.md", () => {
  const text = specText();
  const eventRows = tableRows(text, "## Event names and their own attributes");

  it("has exactly the spec's event names", () => {
    const specNames = eventRows.map((r) => ticked(r[0]!)[0]);
    expect([...semconv.SECURITY_EVENT_NAMES]).toEqual(specNames);
  });

  it("has every attribute key the spec names", () => {
    const shared = tableRows(text, "## Attributes shared by every event").flatMap((r) => ticked(r[0]!));
    const own = eventRows.flatMap((r) => ticked(r[2]!)).filter((t) => /^[a-z_]+(\.[a-z_]+)+$/.test(t));
    const keys = new Set<string>(Object.values(semconv.ATTR));
    for (const key of [...shared, ...own]) expect(keys, key).toContain(key);
  });

  it("has every enum value the spec lists, and no other", () => {
    const enums: Record<string, Record<string, string>> = {
      "auth.outcome": semconv.AUTH_OUTCOME,
      "auth.failure_reason": semconv.AUTH_FAILURE_REASON,
      "auth.method": semconv.AUTH_METHOD,
      "auth.logout_reason": semconv.AUTH_LOGOUT_REASON,
      "auth.mfa_method": semconv.AUTH_MFA_METHOD,
      "auth.reset_stage": semconv.AUTH_RESET_STAGE,
      "auth.lock_reason": semconv.AUTH_LOCK_REASON,
      "account.change_type": semconv.ACCOUNT_CHANGE_TYPE,
      "authz.decision": semconv.AUTHZ_DECISION,
      "input.rule": semconv.INPUT_RULE,
    };
    const cells = eventRows.map((r) => r[2]!).join(" ");
    for (const [key, values] of Object.entries(enums)) {
      // `key` (`a` | `b` | …)
      const m = new RegExp("`" + key.replace(".", "\\.") + "`[^(`]*\\(([^)]*)\\)").exec(cells);
      expect(m, key).not.toBeNull();
      expect(Object.values(values).sort(), key).toEqual(ticked(m![1]!).sort());
    }
  });
});
