import { z } from "zod";
import { configSchema } from "./schema.ts";

/** A JSON Schema node as produced by z.toJSONSchema (only the parts we read). */
interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  format?: string;
  pattern?: string;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
}

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

const code = (v: string) => "`" + v.replace(/\|/g, "\\|") + "`";

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.enum) return s.enum.map((e) => code(String(e))).join(" \\| ");
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return variants.map(typeOf).join(" or ");
  const t = Array.isArray(s.type) ? s.type.join(" \\| ") : (s.type ?? "any");
  if (t === "array" && s.items) return `list of ${typeOf(s.items)}`;
  if (t === "object" && s.properties && "env" in s.properties) return "secret";
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) bounds.push(`≤ ${s.maximum}`);
  if (s.format) bounds.push(s.format);
  return bounds.length ? `${t} (${bounds.join(", ")})` : t;
}

function isSecret(s: JsonSchema): boolean {
  const variants = s.anyOf ?? s.oneOf;
  return !!variants?.some((v) => v.properties && ("env" in v.properties || "file" in v.properties));
}

function walk(s: JsonSchema, key: string, rows: Row[]): void {
  const variants = s.anyOf ?? s.oneOf;
  if (isSecret(s)) {
    rows.push({
      key,
      type: "secret (`{env: NAME}` or `{file: PATH}`)",
      default: "",
      description: s.description ?? "",
    });
    return;
  }
  if (s.type === "object" && s.properties) {
    if (key) rows.push({ key, type: "object", default: "", description: s.description ?? "" });
    for (const [name, child] of Object.entries(s.properties))
      walk(child, key ? `${key}.${name}` : name, rows);
    if (s.additionalProperties && typeof s.additionalProperties === "object") {
      walk(s.additionalProperties, `${key}.<name>`, rows);
    }
    return;
  }
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    rows.push({ key, type: "map", default: "", description: s.description ?? "" });
    walk(s.additionalProperties, `${key}.<name>`, rows);
    return;
  }
  if (s.type === "array" && s.items && (s.items.anyOf ?? s.items.oneOf ?? s.items.properties)) {
    rows.push({ key, type: "list", default: fmtDefault(s.default), description: s.description ?? "" });
    const itemVariants = s.items.anyOf ?? s.items.oneOf ?? [s.items];
    for (const v of itemVariants) {
      const discriminator = v.properties?.type?.const;
      walk(v, `${key}[]${discriminator !== undefined ? ` (type: ${String(discriminator)})` : ""}`, rows);
    }
    return;
  }
  if (variants && variants.every((v) => v.type === "object" && v.properties)) {
    rows.push({ key, type: "one of", default: fmtDefault(s.default), description: s.description ?? "" });
    variants.forEach((v, i) => walk(v, `${key} (variant ${i + 1})`, rows));
    return;
  }
  rows.push({ key, type: typeOf(s), default: fmtDefault(s.default), description: s.description ?? "" });
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "object" && v !== null && Object.keys(v).length > 0 && !Array.isArray(v)) return "";
  return code(JSON.stringify(v));
}

/** The configuration reference, generated from the schema. */
export function configReferenceMarkdown(): string {
  const json = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const rows: Row[] = [];
  walk(json, "", rows);
  const lines = [
    "# Configuration reference",
    "",
    "<!-- Generated from packages/detector/src/config/schema.ts by `pnpm docs`. Do not edit. -->",
    "",
    "`secmon-detector` runs with no configuration at all (every key below has a default), or with one",
    "YAML file: `secmon-detector --config FILE`. Check a file with `secmon-detector config check FILE`.",
    "Unknown keys are rejected with their path and line. Secrets are never written inline: they name",
    "an environment variable (`{ env: NAME }`) or a file (`{ file: PATH }`).",
    "",
    "| key | type | default | description |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      (r) => `| ${code(r.key)} | ${r.type} | ${r.default} | ${r.description.replace(/\|/g, "\\|")} |`,
    ),
    "",
  ];
  return lines.join("\n");
}
