/**
 * Writes the standard golden cases of the default pack into rules/testdata/<rule>/<case>/.
 * Run: ./node_modules/.bin/pnpm exec node --conditions=@secmon/source packages/detector/test/rules/generate-golden.ts
 *
 * The expected alerts are computed here from the documented semantics with exact times (an
 * event counts at time t when it happened in (t − W, t]), independently of the engine; the
 * generator refuses a case in which an event sits in the one-bucket zone where the engine's
 * bucketed windows may differ from exact ones. Hand-written cases live beside these (their
 * folder names do not collide).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

const ROOT = fileURLToPath(new URL("../../../../rules/testdata/", import.meta.url));
const T0 = Date.parse("2026-11-21T10:00:00.000Z");
const STEP = 0.5; // seconds between events of a burst
const LATENESS = 60;
const SUPPRESSION = 300;

type Attrs = Record<string, string | number | boolean | (string | number)[]>;
interface Line {
  time: string;
  event_name: string;
  service: string;
  attributes: Attrs;
  batch?: string;
}
/** An event of a case: when (seconds after T0), what, and what it adds to the aggregate. */
interface Ev {
  t: number;
  name: string;
  attrs: Attrs;
  service?: string;
  batch?: string;
  /** Counted by the rule: amount (count 1, sum: bytes) or member (distinct); trigger for sequences. */
  counts?: { amount?: number; member?: string; trigger?: boolean };
}

interface RuleModel {
  id: string;
  kind: "count" | "sum" | "distinct" | "sequence";
  window: number;
  threshold: number;
  compare: ">=" | ">";
  /** The group attribute(s) and the value used for the attacker. */
  group: Record<string, string>;
  addressGrouped: boolean;
  /** The rule's response (for the `until` check in above_threshold). */
  response?: { action: string; target: string; duration?: number };
  /** A counted event at time t (i-th of its burst), for the given group values. */
  hit(t: number, i: number, group: Record<string, string>): Ev;
  /** Events the rule must not count (wrong outcome, other event, …). */
  noise(t: number): Ev[];
  /** Amount each hit adds (count 1; sum bytes); distinct counts members. */
  unit: number;
  /** Sequence rules: the trigger event. */
  trigger?(t: number, group: Record<string, string>): Ev;
}

const ADDRESS = "203.0.113.7";
const USER_HASH = "5f2b9c1e8a7d4c3b2a1f0e9d8c7b6a59";
const USER_ID = "u-1001";

function bucketSeconds(window: number): number {
  return Math.min(window, Math.max(1, Math.ceil(window / 60)));
}

/** How many hits it takes to fire. */
function need(m: RuleModel): number {
  const units = m.compare === ">=" ? m.threshold : m.threshold + 1;
  return Math.ceil(units / m.unit);
}

// ---- the oracle ---------------------------------------------------------------------------

interface OracleAlert {
  group: Record<string, string>;
  value: number;
  count: number;
  createdAt: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * The parts the engine evaluates a batch in (Engine.evaluate): the batch as it is, unless its
 * events span the suppression period or more; then its events sorted by time, cut into runs that
 * each span less than it.
 */
function parts(batch: Ev[]): Ev[][] {
  const times = batch.map((e) => e.t);
  if (Math.max(...times) - Math.min(...times) < SUPPRESSION) return [batch];
  const out: Ev[][] = [];
  for (const e of [...batch].sort((a, b) => a.t - b.t)) {
    const part = out.at(-1);
    if (part && e.t - part[0]!.t < SUPPRESSION) part.push(e);
    else out.push([e]);
  }
  return out;
}

/** Exact-time evaluation of a case, with deduplication (spec alerts.md). */
function oracle(m: RuleModel, batches: Ev[][]): OracleAlert[] {
  const applied = new Map<string, Ev[]>(); // group key → counted events applied so far
  const newest = new Map<string, number>();
  const alerts: OracleAlert[] = [];
  const latest = new Map<string, OracleAlert>();
  const W = m.window;
  const b = bucketSeconds(W);
  const keyOf = (g: Record<string, string>) => JSON.stringify(g);
  const windowValue = (evs: Ev[], t: number, inclusiveSameBucket: boolean) => {
    let sum = 0;
    const members = new Set<string>();
    let first = Infinity;
    for (const e of evs) {
      const age = t - e.t;
      if (age < 0 && !(inclusiveSameBucket && Math.floor(e.t / b) === Math.floor(t / b))) continue;
      if (age >= W - 1e-9 && age < W + b + 1e-9)
        throw new Error(`${m.id}: ambiguous event at ${e.t} for t=${t}`);
      if (age >= W) continue;
      if (age < 0) throw new Error(`${m.id}: event after the trigger in its bucket`);
      first = Math.min(first, e.t);
      if (m.kind === "distinct") members.add(e.counts!.member!);
      else sum += e.counts!.amount ?? 1;
    }
    return { value: m.kind === "distinct" ? members.size : sum, first };
  };
  const passes = (v: number) => (m.compare === ">=" ? v >= m.threshold : v > m.threshold);

  for (const batch of batches.flatMap(parts)) {
    const best = new Map<
      string,
      { value: number; at: number; first: number; group: Record<string, string> }
    >();
    for (const e of batch) {
      if (!e.counts) continue;
      const group = groupOf(m, e);
      if (!group) continue;
      const key = keyOf(group);
      const list = applied.get(key) ?? [];
      const n = newest.get(key) ?? -Infinity;
      if (e.counts.trigger) {
        if (e.t < n - LATENESS) continue;
        const { value, first } = windowValue(list, e.t, true);
        const prev = best.get(key);
        if (!prev || value >= prev.value) best.set(key, { value, at: e.t, first, group });
        continue;
      }
      if (e.t < n - LATENESS) continue; // late
      list.push(e);
      applied.set(key, list);
      const now = Math.max(n, e.t);
      newest.set(key, now);
      if (m.kind === "sequence") continue;
      const { value, first } = windowValue(list, now, false);
      const prev = best.get(key);
      if (!prev || value >= prev.value) best.set(key, { value, at: now, first, group });
    }
    for (const [key, r] of best) {
      if (!passes(r.value)) continue;
      const open = latest.get(key);
      if (open && r.at - open.createdAt < SUPPRESSION) {
        open.value = r.value;
        open.count++;
        open.firstSeen = Math.min(open.firstSeen, r.first);
        open.lastSeen = Math.max(open.lastSeen, r.at);
      } else {
        const a = {
          group: r.group,
          value: r.value,
          count: 1,
          createdAt: r.at,
          firstSeen: r.first,
          lastSeen: r.at,
        };
        alerts.push(a);
        latest.set(key, a);
      }
    }
  }
  return alerts;
}

/** The group of an event as the engine shows it, or undefined when an attribute is missing. */
function groupOf(m: RuleModel, e: Ev): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const attr of Object.keys(m.group)) {
    let v: unknown;
    if (attr === "service.name") v = e.service ?? "checkout";
    else if (attr === "event.name") v = e.name;
    else v = e.attrs[attr];
    if (v === undefined || v === "") return undefined;
    out[attr] = attr === "client.address" ? showAddress(String(v)) : String(v);
  }
  return out;
}

/** The address forms the cases use, as the engine groups them (/64 for IPv6). */
function showAddress(a: string): string {
  if (a.startsWith("::ffff:")) return a.slice(7);
  if (a.toLowerCase().startsWith("2001:db8:1:2:") || a.startsWith("2001:0db8:0001:0002:"))
    return "2001:db8:1:2::/64";
  if (a.startsWith("2001:db8:1:3:")) return "2001:db8:1:3::/64";
  return a;
}

// ---- case builders ------------------------------------------------------------------------

interface Case {
  description: string;
  batches: Ev[][];
  /** Extra fields to assert on the alerts (beyond group, value, threshold, count). */
  detail?: boolean;
}

function burst(m: RuleModel, from: number, n: number, group = m.group, batch?: string): Ev[] {
  return Array.from({ length: n }, (_, i) => ({
    ...m.hit(from + i * STEP, i, group),
    ...(batch ? { batch } : {}),
  }));
}

function one(evs: Ev[], batch: string): Ev[][] {
  return [evs.map((e) => ({ ...e, batch }))];
}

function thresholdCases(m: RuleModel): Record<string, Case> {
  const n = need(m);
  const W = m.window;
  const b = bucketSeconds(W);
  const atCount = Math.ceil(m.threshold / m.unit);
  const cases: Record<string, Case> = {
    below_threshold: {
      description: `${n - 1} counted events (one short), with events the rule must not count`,
      batches: one([...burst(m, 0, n - 1), ...m.noise(n * STEP)], "1"),
    },
    at_threshold: {
      description:
        m.compare === ">="
          ? `exactly the threshold: fires (>=)`
          : `exactly the threshold: does not fire (> needs more)`,
      batches: one(burst(m, 0, atCount), "1"),
      detail: true,
    },
    above_threshold: {
      description: `one more than it takes to fire`,
      batches: one(burst(m, 0, n + 1), "1"),
      detail: true,
    },
    window_expired: {
      description: `${n - 1} events, then one more after the first ones left the ${W} s window`,
      batches: [burst(m, 0, n - 1, m.group, "1"), burst(m, (n - 2) * STEP + W + b + 1, 1, m.group, "2")],
    },
    window_edge: {
      description: `${n - 1} events, then one more ${W - 1} s after the first: all inside the window`,
      batches: [burst(m, 0, n - 1, m.group, "1"), burst(m, W - 1, 1, m.group, "2")],
    },
    out_of_order: {
      description: `${n} events delivered newest third first, oldest third last (within the allowed lateness)`,
      batches: (() => {
        const all = burst(m, 0, n);
        const third = Math.ceil(n / 3);
        const chunks = [all.slice(2 * third), all.slice(third, 2 * third), all.slice(0, third)].filter(
          (c) => c.length,
        );
        return chunks.map((c, i) => c.map((e) => ({ ...e, batch: String(i + 1) })));
      })(),
      detail: true,
    },
    too_late: {
      description: `${n - 1} events, then one more than ${LATENESS} s older than the newest: not counted`,
      batches: [burst(m, 100, n - 1, m.group, "1"), burst(m, 0, 1, m.group, "2")],
    },
    deduplication: {
      description: `a burst, a second burst inside the ${SUPPRESSION} s suppression (updates), a third after it (new alert)`,
      batches: unambiguous(m, (extra) => [
        burstVar(m, 0, n, "a", "1"),
        burstVar(m, 120, n, "b", "2"),
        burstVar(m, 120 + SUPPRESSION + 1 + n * STEP + extra, n, "c", "3"),
      ]),
    },
    episodes_in_one_batch: {
      description: `two bursts more than the ${SUPPRESSION} s suppression apart in ONE batch (a replay, a Collector draining its queue): two alerts, as when they come in two batches`,
      batches: unambiguous(m, (extra) => [
        [
          ...burstVar(m, 0, n, "a", "1"),
          ...burstVar(m, (n - 1) * STEP + SUPPRESSION + 60 + extra, n, "b", "1"),
        ],
      ]),
      detail: true,
    },
  };
  if (Object.keys(m.group).some((a) => a !== "service.name" && a !== "event.name")) {
    const attr = Object.keys(m.group)[0]!;
    const evs = burst(m, 0, n - 1);
    cases.missing_group = {
      description: `${n - 1} events with ${attr}, one without it and one with an empty value: never an empty group`,
      batches: one(
        [
          ...evs,
          { ...m.hit((n - 1) * STEP, n, m.group), attrs: without(m.hit(0, n, m.group).attrs, attr) },
          { ...m.hit(n * STEP, n + 1, m.group), attrs: { ...m.hit(0, n + 1, m.group).attrs, [attr]: "" } },
        ],
        "1",
      ),
    };
  }
  if (m.addressGrouped) {
    cases.ipv6_prefix = {
      description:
        "events from rotating IPv6 addresses of one /64 (some written in full) are one group; another /64 is not",
      batches: one(
        [
          ...Array.from({ length: n }, (_, i) =>
            m.hit(i * STEP, i, {
              "client.address":
                i % 3 === 0
                  ? `2001:0db8:0001:0002:0000:0000:0000:${(i + 1).toString(16).padStart(4, "0")}`
                  : `2001:db8:1:2::${(i + 1).toString(16)}`,
            }),
          ),
          m.hit(n * STEP, n + 7, { "client.address": "2001:db8:1:3::1" }),
        ],
        "1",
      ),
    };
    cases.ipv4_mapped = {
      description: "IPv4-mapped IPv6 addresses count as the IPv4 address",
      batches: one(
        Array.from({ length: n }, (_, i) =>
          m.hit(i * STEP, i, { "client.address": i % 2 === 0 ? `::ffff:${ADDRESS}` : ADDRESS }),
        ),
        "1",
      ),
    };
  }
  return cases;
}

/** The first layout (shifting the last part by 5 s steps) in which no event sits in a bucket-edge zone. */
function unambiguous(m: RuleModel, layout: (extra: number) => Ev[][]): Ev[][] {
  for (let extra = 0; extra < 1000; extra += 5) {
    const batches = layout(extra);
    try {
      oracle(m, batches);
      return batches;
    } catch {
      // try a later start
    }
  }
  throw new Error(`${m.id}: no unambiguous layout`);
}

/** A burst whose distinct members differ from other bursts' (so distinct counts add up). */
function burstVar(m: RuleModel, from: number, n: number, tag: string, batch: string): Ev[] {
  return Array.from({ length: n }, (_, i) => {
    const e = m.hit(from + i * STEP, i, m.group);
    if (e.counts?.member !== undefined) {
      const member = `${tag}${e.counts.member}`.slice(0, 32);
      return { ...e, batch, attrs: { ...e.attrs, "user.hash": member }, counts: { member } };
    }
    return { ...e, batch };
  });
}

function without(attrs: Attrs, key: string): Attrs {
  const copy = { ...attrs };
  delete copy[key];
  return copy;
}

function sequenceCases(m: RuleModel): Record<string, Case> {
  const n = need(m);
  const W = m.window;
  const b = bucketSeconds(W);
  const trig = (t: number, batch: string, group = m.group) => ({ ...m.trigger!(t, group), batch });
  return {
    below_threshold: {
      description: `${n - 1} failures, then a success: not enough`,
      batches: [burst(m, 0, n - 1, m.group, "1"), [trig(10, "2")]],
    },
    at_threshold: {
      description: `${n} failures, then a success: fires`,
      batches: [burst(m, 0, n, m.group, "1"), [trig(10, "2")]],
      detail: true,
    },
    above_threshold: {
      description: `${n + 2} failures, then a success in the same batch`,
      batches: one([...burst(m, 0, n + 2), m.trigger!(10, m.group)], "1"),
      detail: true,
    },
    window_expired: {
      description: `${n} failures, then a success after they left the ${W} s window`,
      batches: [burst(m, 0, n, m.group, "1"), [trig((n - 1) * STEP + W + b + 1, "2")]],
    },
    window_edge: {
      description: `${n} failures, then a success ${W - 1} s after the first`,
      batches: [burst(m, 0, n, m.group, "1"), [trig(W - 1, "2")]],
    },
    out_of_order: {
      description: `${n} failures delivered newest first, then a success`,
      batches: [burst(m, 2, n - 2, m.group, "1"), burst(m, 0, 2, m.group, "2"), [trig(20, "3")]],
      detail: true,
    },
    too_late: {
      description: `${n - 1} failures, one more failure more than ${LATENESS} s older than the newest (not counted), then a success`,
      batches: [burst(m, 100, n - 1, m.group, "1"), burst(m, 0, 1, m.group, "2"), [trig(110, "3")]],
    },
    success_first: {
      description: "the success comes before the failures: nothing to take over yet",
      batches: [[trig(0, "1")], burst(m, 10, n + 2, m.group, "2")],
    },
    missing_group: {
      description: `failures and a success without user.hash, or with an empty one: never an empty group`,
      batches: [
        burst(m, 0, n, m.group, "1").map((e) => ({ ...e, attrs: without(e.attrs, "user.hash") })),
        [{ ...trig(10, "2"), attrs: { ...m.trigger!(10, m.group).attrs, "user.hash": "" } }],
      ],
    },
    deduplication: {
      description: `a takeover, another success inside the ${SUPPRESSION} s suppression (updates), another after it (new alert); another user's success does not fire`,
      batches: [
        burst(m, 0, n, m.group, "1"),
        [trig(10, "2")],
        [trig(120, "3"), trig(121, "3", { "user.hash": "00000000000000000000000000000000" })],
        [trig(10 + SUPPRESSION + 5, "4")],
      ],
    },
    failures_after_success: {
      description: `${n} failures, the success, then ${n} more failures ${LATENESS + 30} s later, all in ONE batch: fires, as when the success comes in a batch of its own`,
      batches: one([...burst(m, 0, n), m.trigger!(10, m.group), ...burst(m, 10 + LATENESS + 30, n)], "1"),
      detail: true,
    },
    episodes_in_one_batch: {
      description: `two takeovers more than the ${SUPPRESSION} s suppression apart in ONE batch (a replay, a Collector draining its queue): two alerts, as when they come in two batches`,
      batches: one(
        [
          ...burst(m, 0, n),
          m.trigger!(10, m.group),
          ...burst(m, 10 + SUPPRESSION + 60, n),
          m.trigger!(10 + SUPPRESSION + 70, m.group),
        ],
        "1",
      ),
      detail: true,
    },
  };
}

// ---- the rules ----------------------------------------------------------------------------

const login = (outcome: "success" | "failure", attrs: Attrs): Ev => ({
  t: 0,
  name: "auth.login",
  attrs: { "auth.outcome": outcome, "auth.method": "password", ...attrs },
});

function failureRule(
  id: string,
  kind: "count" | "distinct",
  window: number,
  threshold: number,
  compare: ">=" | ">",
  groupAttr: "client.address" | "user.hash" | "service.name",
  response?: RuleModel["response"],
): RuleModel {
  const group: Record<string, string> =
    groupAttr === "client.address"
      ? { "client.address": ADDRESS }
      : groupAttr === "user.hash"
        ? { "user.hash": USER_HASH }
        : { "service.name": "checkout" };
  return {
    id,
    kind,
    window,
    threshold,
    compare,
    group,
    addressGrouped: groupAttr === "client.address",
    unit: 1,
    ...(response ? { response } : {}),
    hit(t, i, g) {
      const member = `${(i + 1).toString(16).padStart(2, "0")}${"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6".slice(2)}`;
      const attrs: Attrs = {
        "client.address": ADDRESS,
        "user.hash": kind === "distinct" ? member : USER_HASH,
        ...(groupAttr === "service.name" ? {} : g),
      };
      if (groupAttr === "user.hash" && kind !== "distinct")
        attrs["client.address"] = `198.51.100.${(i % 200) + 1}`;
      if (groupAttr === "service.name") attrs["client.address"] = `198.51.100.${(i % 200) + 1}`;
      return {
        ...login("failure", attrs),
        t,
        ...(groupAttr === "service.name" ? { service: g["service.name"]! } : {}),
        counts: kind === "distinct" ? { member } : { amount: 1 },
      };
    },
    noise(t) {
      return [
        {
          ...login("success", {
            ...group,
            "user.hash": USER_HASH,
            "client.address": groupAttr === "client.address" ? ADDRESS : "198.51.100.9",
          }),
          t,
        },
        {
          ...login("success", {
            ...group,
            "user.hash": USER_HASH,
            "client.address": groupAttr === "client.address" ? ADDRESS : "198.51.100.9",
          }),
          t: t + STEP,
        },
        {
          t: t + 2 * STEP,
          name: "auth.logout",
          attrs: { "client.address": ADDRESS, "user.hash": USER_HASH, "auth.logout_reason": "user" },
        },
      ];
    },
  };
}

const MODELS: RuleModel[] = [
  failureRule("brute_force", "count", 300, 10, ">=", "client.address", {
    action: "block_ip",
    target: "client.address",
    duration: 3600,
  }),
  failureRule("credential_stuffing", "distinct", 600, 5, ">=", "client.address", {
    action: "require_captcha",
    target: "client.address",
  }),
  failureRule("password_spray", "distinct", 3600, 20, ">", "client.address", {
    action: "block_ip",
    target: "client.address",
    duration: 3600,
  }),
  failureRule("failed_login_spike", "count", 3600, 50, ">", "client.address"),
  failureRule("account_brute_force", "count", 900, 5, ">", "user.hash", {
    action: "throttle_user",
    target: "user.hash",
  }),
  failureRule("auth_failure_surge", "count", 300, 10, ">", "service.name"),
  {
    id: "account_takeover",
    kind: "sequence",
    window: 900,
    threshold: 5,
    compare: ">=",
    group: { "user.hash": USER_HASH },
    addressGrouped: false,
    unit: 1,
    response: { action: "revoke_sessions", target: "user.hash" },
    hit: (t, i, g) => ({
      ...login("failure", { "client.address": `198.51.100.${i + 1}`, ...g }),
      t,
      counts: { amount: 1 },
    }),
    noise: (): Ev[] => [],
    trigger: (t, g) => ({
      ...login("success", { "client.address": "198.51.100.77", ...g }),
      t,
      counts: { trigger: true },
    }),
  },
  {
    id: "api_scanning",
    kind: "count",
    window: 60,
    threshold: 50,
    compare: ">=",
    group: { "client.address": ADDRESS },
    addressGrouped: true,
    unit: 1,
    response: { action: "rate_limit", target: "client.address" },
    hit: (t, i, g) => ({
      t,
      name: "api.request",
      attrs: {
        "client.address": ADDRESS,
        ...g,
        "http.request.method": "GET",
        "url.path": `/admin/${["backup", ".env", "wp-login.php", "config.json", "phpinfo.php"][i % 5]}${i}`,
        // every seventh status as a numeric string: it still compares as the number 404
        "http.response.status_code": i % 7 === 3 ? "404" : 404,
      },
      counts: { amount: 1 },
    }),
    noise: (t): Ev[] => [
      {
        t,
        name: "api.request",
        attrs: {
          "client.address": ADDRESS,
          "http.route": "/health",
          "url.path": "/health",
          "http.response.status_code": 200,
        },
      },
      {
        t: t + STEP,
        name: "api.request",
        attrs: { "client.address": ADDRESS, "url.path": "/missing", "http.response.status_code": 500 },
      },
    ],
  },
  {
    id: "injection_attempts",
    kind: "count",
    window: 300,
    threshold: 5,
    compare: ">=",
    group: { "client.address": ADDRESS },
    addressGrouped: true,
    unit: 1,
    response: { action: "block_ip", target: "client.address", duration: 3600 },
    hit: (t, i, g) => ({
      t,
      name: "input.validation_failure",
      attrs: {
        "client.address": ADDRESS,
        ...g,
        "input.field": "q",
        "input.rule": ["sqli", "xss", "path_traversal", "command_injection"][i % 4]!,
        "http.route": "/search",
      },
      counts: { amount: 1 },
    }),
    noise: (t): Ev[] => [
      {
        t,
        name: "input.validation_failure",
        attrs: { "client.address": ADDRESS, "input.field": "email", "input.rule": "format" },
      },
      {
        t: t + STEP,
        name: "input.validation_failure",
        attrs: { "client.address": ADDRESS, "input.field": "name", "input.rule": "length" },
      },
    ],
  },
  {
    id: "privilege_escalation",
    kind: "count",
    window: 3600,
    threshold: 3,
    compare: ">=",
    group: { "user.id": USER_ID },
    addressGrouped: false,
    unit: 1,
    hit: (t, i, g) => ({
      t,
      name: "authz.decision",
      attrs: {
        "user.id": USER_ID,
        ...g,
        "authz.decision": "deny",
        "authz.permission": "users:delete",
        "authz.missing_permissions": i % 2 === 0 ? ["admin"] : ["billing", "admin"],
        "authz.resource": `/admin/users/${i}`,
      },
      counts: { amount: 1 },
    }),
    noise: (t): Ev[] => [
      {
        t,
        name: "authz.decision",
        attrs: { "user.id": USER_ID, "authz.decision": "deny", "authz.missing_permissions": ["billing"] },
      },
      {
        t: t + STEP,
        name: "authz.decision",
        attrs: { "user.id": USER_ID, "authz.decision": "allow", "authz.missing_permissions": ["admin"] },
      },
    ],
  },
  {
    id: "data_exfiltration",
    kind: "sum",
    window: 300,
    threshold: 1_000_000,
    compare: ">=",
    group: { "user.id": USER_ID },
    addressGrouped: false,
    unit: 100_000,
    response: { action: "suspend_user", target: "user.id" },
    hit: (t, i, g) => ({
      t,
      name: "api.request",
      attrs: {
        "user.id": USER_ID,
        ...g,
        "client.address": ADDRESS,
        "http.route": "/api/export/:id",
        "http.response.status_code": 200,
        // every fifth size as a numeric string: it still sums as a number
        "http.response.body.size": i % 5 === 2 ? "100000" : 100_000,
      },
      counts: { amount: 100_000 },
    }),
    noise: (t): Ev[] => [
      {
        t,
        name: "api.request",
        attrs: { "user.id": USER_ID, "http.route": "/api/ping", "http.response.status_code": 204 },
      },
      {
        t: t + STEP,
        name: "api.request",
        attrs: { "user.id": USER_ID, "http.route": "/api/x", "http.response.body.size": "n/a" },
      },
      {
        t: t + 2 * STEP,
        name: "api.request",
        attrs: { "user.id": "u-2002", "http.response.body.size": 900_000 },
      },
    ],
  },
  {
    id: "data_access_surge",
    kind: "count",
    window: 900,
    threshold: 50,
    compare: ">",
    group: { "user.id": USER_ID },
    addressGrouped: false,
    unit: 1,
    hit: (t, i, g) => ({
      t,
      name: "data.access",
      attrs: {
        "user.id": USER_ID,
        ...g,
        "data.resource": "customers",
        "data.operation": ["read", "export", "update", "delete"][i % 4]!,
        "data.record_count": 10,
      },
      counts: { amount: 1 },
    }),
    noise: (t): Ev[] => [
      {
        t,
        name: "data.access",
        attrs: { "user.id": "u-2002", "data.resource": "customers", "data.operation": "read" },
      },
      { t: t + STEP, name: "api.request", attrs: { "user.id": USER_ID, "http.response.status_code": 200 } },
    ],
  },
  {
    id: "security_event_surge",
    kind: "count",
    window: 300,
    threshold: 100,
    compare: ">",
    group: { "event.name": "auth.login", "service.name": "checkout" },
    addressGrouped: false,
    unit: 1,
    hit: (t, i) => ({
      ...login(i % 3 === 0 ? "success" : "failure", {
        "client.address": `198.51.100.${(i % 200) + 1}`,
        "user.hash": USER_HASH,
      }),
      t,
      counts: { amount: 1 },
    }),
    noise: (t): Ev[] => [
      { t, name: "api.request", attrs: { "client.address": ADDRESS, "http.response.status_code": 200 } },
      { ...login("failure", { "client.address": ADDRESS }), t: t + STEP, service: "billing" },
      { t: t + 2 * STEP, name: "auth.mfa", attrs: { "auth.outcome": "success", "auth.mfa_method": "totp" } },
      { t: t + 3 * STEP, name: "custom.audit", attrs: {} },
    ],
  },
  {
    id: "user_activity_surge",
    kind: "count",
    window: 3600,
    threshold: 20,
    compare: ">",
    group: { "user.id": USER_ID },
    addressGrouped: false,
    unit: 1,
    hit: (t, i, g) => {
      const kinds: [string, Attrs][] = [
        ["auth.login", { "auth.outcome": "success" }],
        ["auth.mfa", { "auth.outcome": "success", "auth.mfa_method": "push" }],
        ["data.access", { "data.resource": "invoices", "data.operation": "read" }],
        ["authz.decision", { "authz.decision": "allow", "authz.permission": "invoices:read" }],
      ];
      const [name, attrs] = kinds[i % kinds.length]!;
      return { t, name, attrs: { "user.id": USER_ID, ...g, ...attrs }, counts: { amount: 1 } };
    },
    noise: (t): Ev[] => [
      { t, name: "api.request", attrs: { "user.id": USER_ID, "http.response.status_code": 200 } },
      { t: t + STEP, name: "custom.audit", attrs: { "user.id": USER_ID } },
      { t: t + 2 * STEP, name: "data.access", attrs: { "user.id": "u-2002", "data.operation": "read" } },
    ],
  },
];

// ---- writing ------------------------------------------------------------------------------

function toLine(e: Ev): Line {
  return {
    time: new Date(T0 + Math.round(e.t * 1000)).toISOString(),
    event_name: e.name,
    service: e.service ?? "checkout",
    attributes: e.attrs,
    ...(e.batch !== undefined ? { batch: e.batch } : {}),
  };
}

function iso(t: number): string {
  return new Date(T0 + Math.round(t * 1000)).toISOString();
}

let written = 0;
for (const m of MODELS) {
  const cases = m.kind === "sequence" ? sequenceCases(m) : thresholdCases(m);
  for (const [name, c] of Object.entries(cases)) {
    const alerts = oracle(m, c.batches);
    const expected: Record<string, unknown> = { description: c.description };
    if (alerts.length === 0) expected.none = true;
    else {
      expected.alerts = alerts.map((a) => ({
        group: a.group,
        value: a.value,
        threshold: m.threshold,
        count: a.count,
        ...(c.detail
          ? {
              first_seen: iso(a.firstSeen),
              last_seen: iso(a.lastSeen),
              ...(m.response
                ? {
                    responses: [
                      {
                        action: m.response.action,
                        target: a.group[m.response.target],
                        ...(m.response.duration ? { until: iso(a.lastSeen + m.response.duration) } : {}),
                      },
                    ],
                  }
                : {}),
            }
          : {}),
      }));
    }
    const dir = join(ROOT, m.id, name);
    mkdirSync(dir, { recursive: true });
    const lines = c.batches.flat().map((e) => JSON.stringify(toLine(e)));
    writeFileSync(join(dir, "events.jsonl"), lines.join("\n") + "\n");
    writeFileSync(
      join(dir, "expected.yaml"),
      "# Generated by packages/detector/test/rules/generate-golden.ts (exact-time oracle); edit the generator, not this file.\n" +
        stringify(expected, { lineWidth: 0 }),
    );
    written++;
  }
}
console.log(`${written} cases written under ${ROOT}`);
