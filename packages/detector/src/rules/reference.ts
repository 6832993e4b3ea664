import { z } from "zod";
import { describeRule, type RuleDescription } from "../engine/engine.ts";
import { defaultRegistry } from "../engine/registry.ts";
import { BUCKETS_PER_WINDOW } from "../state/types.ts";
import { loadRules } from "./compile.ts";
import { ruleOverrideSchema, rulesSectionSchema } from "./config.ts";
import { eventsSchema, predicateOpsSchema, ruleSchema } from "./language.ts";
import { TEMPLATE_BUILTINS } from "./template.ts";

/**
 * docs/rules.md: the rule language (from the schemas and the kinds registry) and the default
 * pack (from the loaded rules). A test keeps the committed file equal to this output.
 */

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  $ref?: string;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => "`" + s + "`";

function jsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

function typeText(s: JsonSchema): string {
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.enum) return s.enum.map((e) => code(String(e))).join(", ");
  if (s.anyOf) return s.anyOf.map(typeText).join(" or ");
  if (s.$ref) return "operators";
  const t = Array.isArray(s.type) ? s.type.join(" or ") : (s.type ?? "any");
  if (t === "array" && s.items) return `list of ${typeText(s.items)}`;
  if (t === "object") return "mapping";
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) bounds.push(`≤ ${s.maximum}`);
  return bounds.length ? `${t} (${bounds.join(", ")})` : t;
}

function fieldTable(schema: z.ZodType, prefix = ""): string {
  const s = jsonSchema(schema);
  const required = new Set(s.required ?? []);
  const rows = Object.entries(s.properties ?? {}).map(([name, p]) => {
    const def =
      p.default !== undefined ? code(JSON.stringify(p.default)) : required.has(name) ? "required" : "";
    return `| ${code(prefix + name)} | ${cell(typeText(p))} | ${cell(def)} | ${cell(p.description ?? "")} |`;
  });
  return ["| key | type | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The example rule shown in the doc; a test lints it so it never drifts from the language. */
export const EXAMPLE_RULE = `rules:
  - id: brute_force
    description: >
      Many failed sign-ins from one client address in a few minutes: someone is guessing
      passwords, for one account or several.
    tags: [stable, authentication, mitre.t1110]
    severity: high
    suppression_seconds: 300
    title: "Brute-force sign-in attempts from {{ client.address }}"
    match:
      events: auth.login
      where:
        auth.outcome: failure
    group_by: [client.address]
    detect:
      kind: count
      window_seconds: 300
      compare: ">="
      threshold: 10
    recommended_actions:
      - Block or challenge the source address
    responses:
      - action: block_ip
        target: client.address
        duration_seconds: 3600
`;

function ruleSection(r: RuleDescription): string {
  const inputs = r.inputs.map((input, i) => {
    const label = i === 0 ? (r.kind === "sequence" ? "trigger" : "counts") : "preceded by";
    return `| ${label} | ${cell(input.events)}${input.where ? ` where ${cell(code(input.where))}` : ""} |`;
  });
  const responses = r.responses.length
    ? r.responses
        .map(
          (x) =>
            `${code(x.action)} → ${code(x.target)}${x.durationSeconds ? ` for ${x.durationSeconds} s` : ""}`,
        )
        .join(", ")
    : "—";
  return [
    `### ${code(r.id)}`,
    "",
    r.description,
    "",
    "| | |",
    "| --- | --- |",
    `| kind | ${code(r.kind)} |`,
    ...inputs,
    `| grouped by | ${r.groupBy.map(code).join(", ")} |`,
    `| fires when | ${cell(r.detection)} |`,
    `| severity | ${r.severity} |`,
    `| enabled | ${r.enabled ? "yes" : "no"} |`,
    `| suppression | ${r.suppressionSeconds} s |`,
    `| title | ${cell(code(r.title))} |`,
    `| responses | ${responses} |`,
    `| recommended actions | ${cell(r.recommendedActions.join("; ") || "—")} |`,
    `| tags | ${r.tags.join(", ")} |`,
    `| file | ${code(r.source.replace(/:\d+:\d+$/, "").replace(/^.*\/rules\//, "rules/"))} |`,
    "",
  ].join("\n");
}

export function rulesReferenceMarkdown(): string {
  const registry = defaultRegistry();
  const rules = loadRules({}).map(describeRule);
  const operators = jsonSchema(predicateOpsSchema).properties ?? {};
  const out: string[] = [
    "# Rules reference",
    "",
    "<!-- Generated from packages/detector/src/rules (schemas, kinds registry, default pack). Do not edit: run `pnpm docs`. -->",
    "",
    "Rules are data: YAML files, one file per concern, read like an API. The default pack lives in",
    "`rules/` at the repository root; `rules.paths` in the configuration adds files or directories, and",
    "`rules.overrides` changes a rule per deployment. `secmon-detector rules lint` checks files and prints",
    "`file:line:col: message` per problem; `secmon-detector rules test` runs the golden cases in",
    "`rules/testdata/<rule id>/<case>/` (`events.jsonl` in, `expected.yaml` out).",
    "",
    "## A rule file",
    "",
    "```yaml",
    EXAMPLE_RULE.trimEnd(),
    "```",
    "",
    "A file is a mapping with one key, `rules`, a list of rules. Unknown keys are errors everywhere.",
    "Rule ids are unique across all loaded files; renaming or removing one is a breaking change.",
    "",
    "## Rule fields",
    "",
    fieldTable(ruleSchema),
    "",
    "## Events and conditions",
    "",
    `\`events\` (in \`match\`, and in a kind's own inputs such as \`preceded_by\`): ${cell(jsonSchema(eventsSchema).description ?? "")}.`,
    "`where` maps attribute names to predicates; every clause must hold. A value alone means `equals`.",
    "Attributes are looked up in the record's attributes, then the resource's; `service.name` and",
    "`event.name` are the event's service and name. A missing attribute fails every operator except",
    "`exists: false` and `not`.",
    "",
    "| operator | argument | holds when |",
    "| --- | --- | --- |",
    ...Object.entries(operators).map(
      ([name, p]) => `| ${code(name)} | ${cell(typeText(p))} | ${cell(p.description ?? "")} |`,
    ),
    "",
    "## Kinds",
    "",
    "`detect.kind` picks an entry of the kinds registry; each kind validates its own settings.",
    "",
  ];
  for (const kind of registry.all()) {
    out.push(`### ${code(kind.name)}`, "", kind.summary, "", fieldTable(kind.schema, "detect."), "");
  }
  out.push(
    "## Groups",
    "",
    "`group_by` names up to four attributes; their values make the group, and every window, alert and",
    "suppression period is per (rule, group). An event whose group attribute is missing or an empty",
    'string is not counted by that rule (`secmon_rule_skipped_events{reason="missing_group"}`); it is',
    "never grouped under an empty key.",
    "",
    `\`client.address\` values are grouped as addresses: IPv4 as is, IPv4-mapped IPv6 (\`::ffff:203.0.113.7\`)`,
    "as the IPv4 address, and other IPv6 addresses by their network of `rules.ipv6_group_prefix` bits",
    "(default 64), shown as the prefix (`2001:db8:1:2::/64`), so that rotating addresses inside one",
    "allocation stays one group.",
    "",
    "## Windows",
    "",
    `Windows slide on event time. A window of W seconds is kept as buckets of b = W / ${BUCKETS_PER_WINDOW} rounded up to a`,
    "whole second (at least 1 s, at most W). The window of a group at time t covers the bucket holding t",
    "and the ⌈W / b⌉ buckets before it: every event in (t − W, t] counts, and an event leaves the window",
    "between W and W + b after it happened. After each matching event the group's window is evaluated at",
    "the newest event time the group has seen (so an out-of-order event completes the window it belongs",
    "to). Both comparisons are exact on the aggregate: `>=` fires when it reaches the threshold, `>` when",
    "it passes it. A group fires at most once per evaluation pass, with the largest aggregate the pass",
    "reached; `last_seen` is the end of that window, `first_seen` the oldest counted event when it came",
    "in the same pass, else the start of its bucket. A batch (one OTLP request, or 1,000 events of",
    "`replay`) is one pass, unless its event times span the smallest `suppression_seconds` of the",
    "enabled rules or more (at least 1 s): then it is sorted by event time and evaluated in parts that",
    "each span less, one after the other. So episodes of a group further apart than its rule's",
    "suppression period give separate alerts whether they arrive in one batch or in several (a",
    "Collector draining its queue after an outage, `replay` of a recording): how many firings an alert",
    "took (`count`) still depends on the batches.",
    "",
    "Events may arrive out of order: an event up to `rules.allowed_lateness_seconds` (default 60) behind",
    "the newest event of its group counts, in its own bucket; a later one is not counted",
    '(`secmon_rule_skipped_events{reason="late"}`). Event times more than `rules.max_clock_skew_seconds`',
    "ahead of the detector's clock are taken as the detector's clock. `distinct` remembers each value's",
    "last bucket, at most `rules.max_distinct_per_group` values per group (and at least twice the",
    "threshold + 1); past that the least recently seen tenth is forgotten, so the count saturates near",
    "the cap. A `sequence` reads its preceding events' window when the trigger arrives:",
    "preceding events that arrive after the trigger (in a later batch) do not count for it, and those",
    "in the trigger's own bucket do.",
    "",
    "The embedded window store keeps at most `rules.max_groups_per_rule` groups per rule and evicts the",
    "least recently used (`secmon_state_evictions`); groups whose data left every window are dropped.",
    "",
    "## Titles",
    "",
    `\`title\` is text with \`{{ name }}\` placeholders: a \`group_by\` attribute, or ${TEMPLATE_BUILTINS.map(code).join(", ")}.`,
    "Placeholders are looked up and inserted as text; nothing is evaluated.",
    "",
    "## Overrides",
    "",
    "Per deployment, under `rules.overrides.<rule id>` in the configuration (an id that no loaded rule",
    "has is an error):",
    "",
    fieldTable(ruleOverrideSchema),
    "",
    "The whole `rules` section:",
    "",
    fieldTable(rulesSectionSchema, "rules."),
    "",
    "## The default pack",
    "",
    "| id | severity | counts | grouped by | fires when |",
    "| --- | --- | --- | --- | --- |",
    ...rules.map(
      (r) =>
        `| [${code(r.id)}](#${r.id}) | ${r.severity} | ${cell(r.inputs[0]!.events)}${r.inputs[0]!.where ? cell(` where ${r.inputs[0]!.where}`) : ""} | ${r.groupBy.map(code).join(", ")} | ${cell(r.detection)} |`,
    ),
    "",
    ...rules.map(ruleSection),
  );
  return (
    out
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}
