import calculateSlot from "cluster-key-slot";
import { SecmonError } from "../../errors.ts";
import type { Metrics } from "../../metrics/catalog.ts";
import type { AggregateResult, ApplyOptions, StateOp, StateResult, WindowStore } from "../types.ts";
import { callScript, toStoreError, type RedisConnection } from "./connection.ts";
import { batchKey, distinctKey, distinctMembersKey, windowKey } from "./keys.ts";
import { WINDOW_SCRIPT } from "./window-script.ts";

export interface RedisWindowStoreOptions {
  readonly connection: RedisConnection;
  /** How long an applied batch id is remembered (ms). */
  readonly appliedBatchTtlMs?: number;
  /** Added to each key's TTL (ms). */
  readonly keyTtlExtraMs?: number;
  readonly metrics?: Pick<Metrics, "storeErrors">;
  /** One script call per hash slot (default: on Redis Cluster only; tests force it). */
  readonly perSlot?: boolean;
}

const CODES = { window_add: 1, window_read: 2, distinct_add: 3, distinct_read: 4 } as const;

/** The ops of one script call (all of a batch, or on a cluster all of one hash slot). */
class Call {
  readonly keys: string[];
  readonly #keyIndex = new Map<string, number>();
  readonly encoded: unknown[] = [];
  readonly members: string[] = [];
  readonly geometries: number[][] = [];
  readonly #geometryIndex = new Map<string, number>();
  /** Index in the batch of each op of this call. */
  readonly opIndex: number[] = [];

  constructor(marker: string) {
    this.keys = [marker];
  }

  /** 1-based index of a geometry in this call's geometry table. */
  geometry(op: StateOp): number {
    const id = `${op.bucketMs},${op.windowMs},${op.latenessMs},${op.ttlMs}`;
    let i = this.#geometryIndex.get(id);
    if (i === undefined) {
      this.geometries.push([op.bucketMs, op.windowMs, op.latenessMs, op.ttlMs]);
      i = this.geometries.length;
      this.#geometryIndex.set(id, i);
    }
    return i;
  }

  key(k: string): number {
    let i = this.#keyIndex.get(k);
    if (i === undefined) {
      this.keys.push(k);
      i = this.keys.length; // Lua's KEYS is 1-based
      this.#keyIndex.set(k, i);
    }
    return i;
  }
}

const ARGS_BASE = 5; // ARGV[1..4]: ops, marker TTL, extra TTL, geometries; members from ARGV[5]

/**
 * WindowStore on Redis, shared by every detector replica. Each `apply` is one script call per
 * batch (on Redis Cluster: one per hash slot the batch touches, sent together in one pipeline):
 * the ops travel as data and the script applies them key by key with the memory store's
 * semantics, so a batch costs one round trip whatever its size. A batch id is applied once: the
 * script stores the results under an applied-batch marker in the same atomic step and answers
 * a retry with them. Every key expires after its window's TTL (plus `keyTtlExtraMs`).
 */
export class RedisWindowStore implements WindowStore {
  readonly #conn: RedisConnection;
  readonly #batchTtl: number;
  readonly #extraTtl: number;
  readonly #metrics: RedisWindowStoreOptions["metrics"];
  readonly #perSlot: boolean;
  #state: "new" | "started" | "stopped" = "new";
  #starting: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: RedisWindowStoreOptions) {
    this.#conn = options.connection;
    this.#batchTtl = options.appliedBatchTtlMs ?? options.connection.config.applied_batch_ttl_seconds * 1000;
    this.#extraTtl = options.keyTtlExtraMs ?? options.connection.config.key_ttl_extra_seconds * 1000;
    this.#metrics = options.metrics;
    this.#perSlot = options.perSlot ?? options.connection.cluster;
  }

  async start(): Promise<void> {
    if (this.#state === "started") return;
    this.#starting ??= this.#conn.open().then(
      () => {
        this.#state = "started";
        this.#starting = undefined;
      },
      (err: unknown) => {
        this.#starting = undefined;
        throw err;
      },
    );
    return this.#starting;
  }

  async stop(): Promise<void> {
    const wasStarted = this.#state === "started";
    await this.#starting?.catch(() => {});
    const started = wasStarted || this.#state === "started";
    this.#state = "stopped";
    await Promise.allSettled([...this.#inFlight]);
    if (started) await this.#conn.close();
  }

  async apply(ops: readonly StateOp[], opts: ApplyOptions): Promise<StateResult[]> {
    if (this.#state !== "started") {
      throw new SecmonError(
        "STORE_UNAVAILABLE",
        `the window store is ${this.#state === "new" ? "not started" : "stopped"}`,
      );
    }
    if (ops.length === 0) return [];
    const p = this.#apply(ops, opts.batchId);
    this.#inFlight.add(p);
    try {
      return await p;
    } catch (err) {
      this.#metrics?.storeErrors.add(1, { store: "windows", operation: "apply" });
      throw toStoreError(err, "window store");
    } finally {
      this.#inFlight.delete(p);
    }
  }

  async #apply(ops: readonly StateOp[], batchId: string): Promise<StateResult[]> {
    const prefix = this.#conn.prefix;
    const calls = this.#perSlot ? this.#bySlot(ops, batchId) : [this.#single(ops, batchId)];
    for (const call of calls) for (const i of call.opIndex) this.#encode(call, ops[i]!, prefix);
    const client = this.#conn.client;
    let answers: unknown[];
    if (calls.length === 1) {
      answers = [await this.#run(client, calls[0]!)];
    } else {
      const pipeline = client.pipeline();
      for (const call of calls) void this.#run(pipeline, call);
      const replies = (await pipeline.exec()) ?? [];
      answers = replies.map(([err, reply]) => {
        if (err) throw err;
        return reply;
      });
    }
    const results = new Array<StateResult>(ops.length);
    calls.forEach((call, c) => {
      const parsed = parseResults(answers[c], call.opIndex.length);
      call.opIndex.forEach((opIndex, j) => (results[opIndex] = parsed[j]!));
    });
    return results;
  }

  #run(target: object, call: Call): Promise<unknown> {
    return callScript(target, WINDOW_SCRIPT, call.keys, [
      JSON.stringify(call.encoded),
      this.#batchTtl,
      this.#extraTtl,
      JSON.stringify(call.geometries),
      ...call.members,
    ]);
  }

  #single(ops: readonly StateOp[], batchId: string): Call {
    const call = new Call(batchKey(this.#conn.prefix, batchId));
    for (let i = 0; i < ops.length; i++) call.opIndex.push(i);
    return call;
  }

  /** One call per hash slot; the marker of each lives in that slot (named after its first group). */
  #bySlot(ops: readonly StateOp[], batchId: string): Call[] {
    const bySlot = new Map<number, Call>();
    const prefix = this.#conn.prefix;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const slot = calculateSlot(windowKey(prefix, op.key));
      let call = bySlot.get(slot);
      if (!call) bySlot.set(slot, (call = new Call(batchKey(prefix, batchId, op.key))));
      call.opIndex.push(i);
    }
    return [...bySlot.values()];
  }

  #encode(call: Call, op: StateOp, prefix: string): void {
    const code = CODES[op.type];
    if (code === undefined) {
      throw new SecmonError(
        "STORE_UNAVAILABLE",
        `unsupported state op ${(op as { type: string }).type} in the Redis store`,
      );
    }
    const g = call.geometry(op);
    switch (op.type) {
      case "window_add":
        call.encoded.push([code, call.key(windowKey(prefix, op.key)), 0, g, op.times, op.amounts]);
        break;
      case "window_read":
        call.encoded.push([code, call.key(windowKey(prefix, op.key)), 0, g, op.times]);
        break;
      case "distinct_add": {
        const k = call.key(distinctKey(prefix, op.key));
        const m = call.key(distinctMembersKey(prefix, op.key));
        const first = ARGS_BASE + call.members.length;
        for (let i = 0; i < op.times.length; i++) call.members.push(op.members[i] ?? "");
        call.encoded.push([code, k, m, g, op.times, first, op.maxMembers]);
        break;
      }
      case "distinct_read":
        call.encoded.push([code, call.key(distinctKey(prefix, op.key)), 0, g, op.times]);
        break;
    }
  }
}

/** value, at, oldest, late per op (numbers, %.17g text or null) → results. */
function parseResults(answer: unknown, n: number): AggregateResult[] {
  if (!Array.isArray(answer) || answer.length !== 4 * n) {
    throw new SecmonError("INTERNAL", `window script answered ${describe(answer)} for ${n} ops`);
  }
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const out = new Array<AggregateResult>(n);
  for (let i = 0; i < n; i++) {
    const j = 4 * i;
    out[i] = {
      type: "aggregate",
      value: Number(answer[j]),
      at: num(answer[j + 1]),
      oldest: num(answer[j + 2]),
      late: Number(answer[j + 3]),
    };
  }
  return out;
}

function describe(answer: unknown): string {
  return Array.isArray(answer) ? `${answer.length / 4} results` : typeof answer;
}
