import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A stream that keeps what the CLI writes. */
export function capture() {
  let text = "";
  return {
    stream: { write: (s: string) => (text += s) },
    get text() {
      return text;
    },
  };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "secmon-cli-"));
}

/** A small valid rule file with one count rule, `many_failures`, grouped by client.address. */
export const RULE = `rules:
  - id: many_failures
    description: Failed sign-ins from one address.
    tags: [sandbox]
    severity: medium
    title: "{{ value }} failures from {{ client.address }}"
    match:
      events: auth.login
      where: { auth.outcome: failure }
    group_by: [client.address]
    detect: { kind: count, window_seconds: 60, threshold: 3 }
`;
