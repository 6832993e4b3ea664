import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../src/engine/registry.ts";
import { rulesReferenceMarkdown } from "../../src/rules/reference.ts";
import { loadRules } from "../../src/rules/compile.ts";

const DOC = fileURLToPath(new URL("../../../../docs/rules.md", import.meta.url));

describe("docs/rules.md", () => {
  const generated = rulesReferenceMarkdown();

  it("is up to date with the schemas, the kinds and the default pack (regenerate with pnpm docs)", () => {
    expect(readFileSync(DOC, "utf8")).toBe(generated);
  });

  it("documents every kind and every default rule", () => {
    for (const kind of defaultRegistry().names()) expect(generated).toContain(`### \`${kind}\``);
    for (const rule of loadRules()) expect(generated).toContain(`### \`${rule.id}\``);
  });
});
