import type { ObservableResult } from "@opentelemetry/api";
import { endianness } from "node:os";
import { decodeMulti } from "@msgpack/msgpack";
import calculateSlot from "cluster-key-slot";
import { SecmonError } from "../../errors.ts";
import type { Metrics } from "../../metrics/catalog.ts";
import type { AggregateResult, ApplyOptions, StateOp, StateResult, WindowStore } from "../types.ts";
import { ConnectionUse, callScript, defineScript, toStoreError, type RedisConnection } from "./connection.ts";
import { batchKey, clockKey, shardTag, stateHashPrefix, type StateKind } from "./keys.ts";
import { WINDOW_SCRIPT } from "./window-script.ts";

/** KEYS[1] a rule's clock; ARGV epoch hash prefix, TTL (ms) → groups of its two live epochs */
const GROUP_COUNT = defineScript(
  "secmonWindowGroups",
  String.raw`
local clock = tonumber(redis.call('GET', KEYS[1]))
if not clock then return 0 end
local e = math.floor(clock / tonumber(ARGV[2]))
return redis.call('HLEN', ARGV[1] .. e) + redis.call('HLEN', ARGV[1] .. (e - 1))
`,
);

/** The same script, answering a Buffer (MessagePack, not text). */
const WINDOW_SCRIPT_BUFFER = { name: `${WINDOW_SCRIPT.name}Buffer`, lua: WINDOW_SCRIPT.lua };

export interface RedisWindowStoreOptions {
  readonly connection: RedisConnection;
  /** How long an applied batch id is remembered (ms). */
  readonly appliedBatchTtlMs?: number;
  /** Added to each key's TTL (ms). */
  readonly keyTtlExtraMs?: number;
  readonly metrics?: Pick<Metrics, "stateGroups">;
  /**
   * Hash-tag shards of the window state (every replica must use the same number). Default: the
   * connection's `shards`, else 1, or 16 on a cluster.
   */
  readonly shards?: number;
}

const CODES = { window_add: 1, window_read: 2, distinct_add: 3, distinct_read: 4 } as const;

/** A rule of one script call: rule id, kind, geometry, and the group texts it reads. */
interface CallRule {
  readonly index: number;
  readonly kind: 0 | 1;
  readonly op: StateOp;
  readonly groups: string[];
  /** 1-based index among `groups` by the op's whole key. */
  readonly groupIndex: Map<string, number>;
}

/** The ops of one script call: all of a batch, or on a cluster all of one shard. */
class Call {
  readonly tag: string;
  readonly marker: string;
  readonly members: string[] = [];
  readonly rules: CallRule[] = [];
  readonly #byRule = new Map<string, CallRule[]>();
  /** The rule of the previous op (the engine sends a rule's ops together). */
  #last: CallRule | undefined;
  /** Index in the batch of each op of this call. */
  readonly opIndex: number[] = [];

  constructor(tag: string, marker: string) {
    this.tag = tag;
    this.marker = marker;
  }

  /** The rule table as the script reads it. */
  rulesJson(): string {
    return JSON.stringify(
      this.rules.map((r) => [
        r.op.rule,
        r.kind,
        r.op.bucketMs,
        r.op.windowMs,
        r.op.latenessMs,
        r.op.ttlMs,
        r.groups,
      ]),
    );
  }

  /**
   * 1-based indexes of the op's rule (with its kind of state and geometry) in this call's rule
   * table and of its group among the rule's groups. A group is the key without `<rule id>|`
   * (a key without that start is kept whole behind a NUL, which no group text starts with).
   */
  place(op: StateOp): [number, number] {
    const kind = opKind(op) === "d" ? 1 : 0;
    let rule = this.#last;
    if (rule === undefined || rule.op.rule !== op.rule || !sameState(rule, kind, op)) {
      let list = this.#byRule.get(op.rule);
      if (!list) this.#byRule.set(op.rule, (list = []));
      rule = list.find((r) => sameState(r, kind, op));
      if (!rule) {
        rule = { index: this.rules.length + 1, kind, op, groups: [], groupIndex: new Map() };
        this.rules.push(rule);
        list.push(rule);
      }
      this.#last = rule;
    }
    let g = rule.groupIndex.get(op.key);
    if (g === undefined) {
      const start = op.rule.length;
      rule.groups.push(
        op.key.length > start && op.key.charCodeAt(start) === 124 && op.key.startsWith(op.rule)
          ? op.key.slice(start + 1)
          : `\u0000${op.key}`,
      );
      g = rule.groups.length;
      rule.groupIndex.set(op.key, g);
    }
    return [rule.index, g];
  }
}

/** Whether a call rule holds the op's kind of state with the op's geometry. */
function sameState(r: CallRule, kind: 0 | 1, op: StateOp): boolean {
  return (
    r.kind === kind &&
    r.op.bucketMs === op.bucketMs &&
    r.op.windowMs === op.windowMs &&
    r.op.latenessMs === op.latenessMs &&
    r.op.ttlMs === op.ttlMs
  );
}

const ARGS_BASE = 8; // ARGV[1..7]: prefix, tag, ops, base time, rules, marker TTL, extra TTL

/**
 * WindowStore on Redis, shared by every detector replica. Each `apply` is one script call per
 * batch (on Redis Cluster: one per shard the batch touches, all sent at once): the ops travel as
 * one buffer of doubles, and the script reads every group of a rule with one command, applies
 * the ops with the memory store's semantics and writes the groups back with one command, so a
 * batch costs one round trip and a few commands per rule whatever its size. A batch id is
 * applied once: the script stores the results (MessagePack) under an applied-batch marker in
 * the same atomic step and answers a retry with them. Groups are dropped a TTL behind their
 * rule's newest event, and every key expires (window-script.ts).
 *
 * The state is split into `shards` hash tags by the group key's CRC16: on a cluster each shard
 * is a slot, so that the groups of a rule spread over the nodes while one script still updates
 * a rule's groups of one shard together.
 */
export class RedisWindowStore implements WindowStore {
  readonly #conn: RedisConnection;
  readonly #batchTtl: number;
  readonly #extraTtl: number;
  readonly #metrics: RedisWindowStoreOptions["metrics"];
  readonly #shards: number;
  /** Rules this store applied ops of (the gauge reports them): kind of state → TTL. */
  readonly #rules = new Map<string, Map<StateKind, number>>();
  readonly #use: ConnectionUse;
  #observing = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: RedisWindowStoreOptions) {
    this.#conn = options.connection;
    this.#use = new ConnectionUse(options.connection);
    this.#batchTtl = options.appliedBatchTtlMs ?? options.connection.config.applied_batch_ttl_seconds * 1000;
    this.#extraTtl = options.keyTtlExtraMs ?? options.connection.config.key_ttl_extra_seconds * 1000;
    this.#metrics = options.metrics;
    this.#shards = options.shards ?? defaultShards(options.connection);
  }

  start(): Promise<void> {
    return this.#use.start(() => {
      if (this.#metrics?.stateGroups && !this.#observing) {
        this.#metrics.stateGroups.addCallback(this.#observe);
        this.#observing = true;
      }
    });
  }

  async stop(): Promise<void> {
    const started = await this.#use.stop();
    if (this.#observing) {
      this.#metrics?.stateGroups.removeCallback(this.#observe);
      this.#observing = false;
    }
    await Promise.allSettled([...this.#inFlight]);
    if (started) await this.#conn.close();
  }

  async apply(ops: readonly StateOp[], opts: ApplyOptions): Promise<StateResult[]> {
    if (this.#use.state !== "started") {
      throw new SecmonError(
        "STORE_UNAVAILABLE",
        `the window store is ${this.#use.state === "new" ? "not started" : "stopped"}`,
      );
    }
    if (ops.length === 0) return [];
    const p = this.#apply(ops, opts.batchId);
    this.#inFlight.add(p);
    try {
      return await p;
    } catch (err) {
      // counted in secmon_store_errors by the engine, which sees every store's failures
      throw toStoreError(err, "window store");
    } finally {
      this.#inFlight.delete(p);
    }
  }

  /**
   * Groups held per rule, for the rules this store has applied ops of: the groups of the two
   * epochs within a TTL of each rule's clock (HLEN), summed over shards and kinds. That is every
   * group the memory store would track plus, at most, those up to one more TTL old that wait
   * for their epoch to expire: between the live count and about twice it.
   */
  async groupCounts(): Promise<Record<string, number>> {
    const client = this.#conn.client;
    const prefix = this.#conn.prefix;
    const rules = [...this.#rules];
    const counts = await Promise.all(
      rules.map(async ([rule, seen]) => {
        const parts = await Promise.all(
          [...seen].flatMap(([kind, ttlMs]) =>
            Array.from({ length: this.#shards }, (_, s) => {
              const tag = shardTag(s);
              return callScript(
                client,
                GROUP_COUNT,
                [clockKey(prefix, tag, kind, rule)],
                [stateHashPrefix(prefix, tag, kind, rule), ttlMs],
              );
            }),
          ),
        );
        return parts.reduce<number>((n, c) => n + Number(c), 0);
      }),
    );
    return Object.fromEntries(rules.map(([rule], i) => [rule, counts[i]!]));
  }

  readonly #observe = async (result: ObservableResult): Promise<void> => {
    if (this.#use.state !== "started" || !this.#conn.ready) return;
    try {
      for (const [rule, n] of Object.entries(await this.groupCounts())) result.observe(n, { rule });
    } catch {
      // Redis is away: no figure this time (the failed batches are counted)
    }
  };

  async #apply(ops: readonly StateOp[], batchId: string): Promise<StateResult[]> {
    const prefix = this.#conn.prefix;
    const calls = this.#split(ops, batchId);
    const client = this.#conn.client;
    let last: StateOp | undefined;
    for (const op of ops) {
      const kind = opKind(op);
      // a rule's ops come together: its entry is looked up once
      if (last && last.rule === op.rule && last.ttlMs === op.ttlMs && opKind(last) === kind) continue;
      last = op;
      let seen = this.#rules.get(op.rule);
      if (!seen) this.#rules.set(op.rule, (seen = new Map()));
      if (seen.get(kind) !== op.ttlMs) seen.set(kind, op.ttlMs);
    }
    // sent together: one round trip (per node on a cluster)
    const answers = await Promise.all(
      calls.map((call) => {
        const { base, encoded } = this.#encode(call, ops);
        return callScript(
          client,
          WINDOW_SCRIPT_BUFFER,
          [call.marker],
          [
            prefix,
            call.tag,
            encoded,
            base,
            call.rulesJson(),
            this.#batchTtl,
            this.#extraTtl,
            ...call.members,
          ],
        );
      }),
    );
    if (calls.length === 1) return parseResults(answers[0], ops);
    const results = new Array<StateResult>(ops.length);
    calls.forEach((call, c) => {
      const parsed = parseResults(
        answers[c],
        call.opIndex.map((i) => ops[i]!),
      );
      call.opIndex.forEach((opIndex, j) => (results[opIndex] = parsed[j]!));
    });
    return results;
  }

  /** One call per shard the ops touch; the marker of each lives in its shard. */
  #split(ops: readonly StateOp[], batchId: string): Call[] {
    const prefix = this.#conn.prefix;
    if (this.#shards === 1) {
      const tag = shardTag(0);
      const call = new Call(tag, batchKey(prefix, tag, batchId));
      for (let i = 0; i < ops.length; i++) call.opIndex.push(i);
      return [call];
    }
    const byShard = new Map<number, Call>();
    for (let i = 0; i < ops.length; i++) {
      const shard = calculateSlot(ops[i]!.key) % this.#shards;
      let call = byShard.get(shard);
      if (!call) {
        const tag = shardTag(shard);
        byShard.set(shard, (call = new Call(tag, batchKey(prefix, tag, batchId))));
      }
      call.opIndex.push(i);
    }
    return [...byShard.values()];
  }

  /**
   * The call's ops as the script reads them (window-script.ts): one array of doubles, sized
   * first, then filled; the members go to `call.members`. Times are relative to `base`.
   */
  #encode(call: Call, ops: readonly StateOp[]): { base: number; encoded: Buffer } {
    let min = Infinity;
    let size = 0;
    for (const i of call.opIndex) {
      const op = ops[i]!;
      const n = op.times.length;
      const t = op.times[0];
      if (t !== undefined && t < min) min = t;
      size += 4 + n + (op.type === "window_add" ? n : op.type === "distinct_add" ? 2 : 0);
    }
    const base = Number.isFinite(min) ? Math.floor(min) : 0;
    const out = new Float64Array(size);
    let k = 0;
    for (const i of call.opIndex) {
      const op = ops[i]!;
      const code = CODES[op.type];
      if (code === undefined) {
        throw new SecmonError(
          "STORE_UNAVAILABLE",
          `unsupported state op ${(op as { type: string }).type} in the Redis store`,
        );
      }
      const n = op.times.length;
      const [rule, group] = call.place(op);
      out[k] = code;
      out[k + 1] = rule;
      out[k + 2] = group;
      out[k + 3] = n;
      k += 4;
      const times = op.times;
      for (let j = 0; j < n; j++) out[k++] = times[j]! - base;
      switch (op.type) {
        case "window_add": {
          const amounts = op.amounts;
          for (let j = 0; j < n; j++) out[k++] = amounts[j] ?? 0;
          break;
        }
        case "distinct_add":
          out[k++] = ARGS_BASE + call.members.length;
          out[k++] = op.maxMembers;
          for (let j = 0; j < n; j++) call.members.push(op.members[j] ?? "");
          break;
        default:
          break;
      }
    }
    const encoded = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    // the script reads little-endian doubles
    return { base, encoded: LITTLE_ENDIAN ? encoded : encoded.swap64() };
  }
}

const LITTLE_ENDIAN = endianness() === "LE";

/** The kind of state an op reads or writes. */
function opKind(op: StateOp): StateKind {
  return op.type === "distinct_add" || op.type === "distinct_read" ? "d" : "w";
}

/** 1 shard standalone or with sentinel, 16 on a cluster, unless the config says. */
function defaultShards(conn: RedisConnection): number {
  return conn.config.shards ?? (conn.cluster ? 16 : 1);
}
/** The script's MessagePack answer (base, then 4 values per op) → results, one per op. */
function parseResults(answer: unknown, ops: readonly StateOp[]): AggregateResult[] {
  let base: unknown;
  let values: unknown;
  if (Buffer.isBuffer(answer)) {
    try {
      [base, values] = decodeMulti(answer) as Generator<unknown>;
    } catch {
      // reported below
    }
  }
  if (typeof base !== "number" || !Array.isArray(values) || values.length !== 4 * ops.length) {
    throw new SecmonError(
      "INTERNAL",
      `window script answered ${Array.isArray(values) ? `${values.length / 4} results` : typeof answer} for ${ops.length} ops`,
    );
  }
  const out = new Array<AggregateResult>(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const j = 4 * i;
    // Lua arrays cannot hold nil: the script packs false for "none"
    const rel = values[j + 1] as number | false;
    const late = values[j + 3] as number;
    if (rel === false) {
      out[i] = { type: "aggregate", value: 0, at: null, oldest: null, late };
      continue;
    }
    const at = base + rel;
    const bucketMs = ops[i]!.bucketMs;
    const back = values[j + 2] as number | false;
    out[i] = {
      type: "aggregate",
      value: values[j] as number,
      at,
      oldest: back === false ? null : Math.floor(at / bucketMs) * bucketMs - back * bucketMs,
      late,
    };
  }
  return out;
}
