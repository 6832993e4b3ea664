import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { AlertEventType } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import { SecmonError } from "../errors.ts";
import type { SqliteOutboxConfig } from "./config.ts";
import {
  decodeCursor,
  encodeCursor,
  type ClaimOptions,
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterQuery,
  type DeadLetterStore,
  type Delivery,
  enqueueStep,
  rememberedAlerts,
  revisionOf,
  type EnqueueOutcome,
  type NewDelivery,
  type Outbox,
  type OutboxItem,
  type Retry,
  type SinkBacklog,
} from "./types.ts";

/**
 * Version 1 files written before revisions existed lack `deliveries.rev` and `revisions`: start()
 * adds them. The change is additive (a detector that does not know them ignores them), so the
 * version stays.
 */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  sink TEXT NOT NULL,
  type TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  alert TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  first_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_status INTEGER,
  lease_owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  rev INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_sink_seq ON deliveries (sink, seq);
CREATE INDEX IF NOT EXISTS deliveries_sink_alert ON deliveries (sink, alert_id, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  sink TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, seq);
CREATE TABLE IF NOT EXISTS revisions (
  sink TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  rev INTEGER NOT NULL,
  created INTEGER NOT NULL,
  touched INTEGER NOT NULL,
  PRIMARY KEY (sink, alert_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_touched ON revisions (sink, touched);
`;

/** Items not held back by an older item of the same alert and sink. */
const HEAD = `NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.sink = d.sink AND p.alert_id = d.alert_id AND p.seq < d.seq)`;

interface DeliveryRow {
  seq: number;
  id: string;
  sink: string;
  type: string;
  alert: string;
  alert_id: string;
  enqueued_at: number;
  due_at: number;
  attempts: number;
  first_attempt_at: number;
  last_error: string | null;
  last_status: number | null;
  lease_owner: string | null;
  lease_until: number;
  rev: number | null;
}

type Statements = ReturnType<typeof prepare>;

function prepare(db: DatabaseSync) {
  const s = (sql: string): StatementSync => db.prepare(sql);
  return {
    newestOfAlert: s(
      `SELECT seq, type, lease_owner, rev FROM deliveries WHERE sink = ? AND alert_id = ? ORDER BY seq DESC LIMIT 1`,
    ),
    coalesce: s(`UPDATE deliveries SET id = ?, alert = ?, rev = ? WHERE seq = ?`),
    takeOver: s(`UPDATE deliveries SET id = ?, type = ?, due_at = MIN(due_at, ?) WHERE seq = ?`),
    taken: s(`SELECT rev, created FROM revisions WHERE sink = ? AND alert_id = ?`),
    take: s(
      `INSERT INTO revisions (sink, alert_id, rev, created, touched) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sink, alert_id) DO UPDATE SET rev = excluded.rev, created = excluded.created, touched = excluded.touched`,
    ),
    takenCount: s(`SELECT COUNT(*) AS n FROM revisions WHERE sink = ?`),
    takenTrim: s(
      `DELETE FROM revisions WHERE sink = ? AND alert_id IN
         (SELECT alert_id FROM revisions WHERE sink = ? ORDER BY touched LIMIT ?)`,
    ),
    lastTouched: s(`SELECT MAX(touched) AS t FROM revisions`),
    depth: s(`SELECT COUNT(*) AS n FROM deliveries WHERE sink = ?`),
    known: s(
      `SELECT 1 AS k FROM deliveries WHERE id = ? UNION ALL SELECT 1 AS k FROM dead_letters WHERE id = ? LIMIT 1`,
    ),
    insert: s(
      `INSERT INTO deliveries (id, sink, type, alert_id, alert, enqueued_at, due_at, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    claimHeads: s(
      `SELECT * FROM deliveries d WHERE d.sink = ? AND d.due_at <= ?
         AND (d.lease_owner IS NULL OR (d.lease_until <= ? AND d.lease_owner <> ?)) AND ${HEAD} ORDER BY d.seq LIMIT ?`,
    ),
    scanSink: s(
      `SELECT seq, alert_id, due_at, lease_owner, lease_until FROM deliveries WHERE sink = ? ORDER BY seq`,
    ),
    bySeq: s(`SELECT * FROM deliveries WHERE seq = ?`),
    lease: s(
      `UPDATE deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1,
         first_attempt_at = CASE WHEN attempts = 0 THEN ? ELSE first_attempt_at END WHERE seq = ?`,
    ),
    ack: s(`DELETE FROM deliveries WHERE id = ?`),
    nack: s(
      `UPDATE deliveries SET lease_owner = NULL, lease_until = 0, due_at = ?, last_error = ?, last_status = ?
         WHERE id = ? AND lease_owner = ?`,
    ),
    release: s(`UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?`),
    releaseAll: s(`UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL`),
    nextDue: s(
      `SELECT MIN(CASE WHEN d.lease_owner IS NULL THEN d.due_at WHEN d.lease_owner = ? THEN NULL
         ELSE MAX(d.due_at, d.lease_until) END) AS at FROM deliveries d WHERE d.sink = ? AND ${HEAD}`,
    ),
    backlog: s(
      `SELECT sink, COUNT(*) AS depth, MIN(enqueued_at) AS oldest FROM deliveries GROUP BY sink ORDER BY sink`,
    ),
    letterPut: s(`INSERT OR REPLACE INTO dead_letters (id, sink, body) VALUES (?, ?, ?)`),
    letterTrim: s(
      `DELETE FROM dead_letters WHERE sink = ? AND seq NOT IN
         (SELECT seq FROM dead_letters WHERE sink = ? ORDER BY seq DESC LIMIT ?)`,
    ),
    letterGet: s(`SELECT body FROM dead_letters WHERE id = ?`),
    letterDelete: s(`DELETE FROM dead_letters WHERE id = ?`),
    letterPage: s(`SELECT seq, body FROM dead_letters WHERE seq < ? ORDER BY seq DESC LIMIT ?`),
    letterPageOfSink: s(
      `SELECT seq, body FROM dead_letters WHERE seq < ? AND sink = ? ORDER BY seq DESC LIMIT ?`,
    ),
    letterCounts: s(`SELECT sink, COUNT(*) AS n FROM dead_letters GROUP BY sink ORDER BY sink`),
  };
}

/**
 * The durable outbox in one SQLite file (node:sqlite, WAL). Every write is one transaction
 * committed before the call resolves, so a delivery enqueued is delivered after a crash of the
 * process. The file belongs to one detector process (exclusive lock); `start()` therefore hands
 * back the leases the previous process held. Calls are synchronous underneath (short
 * transactions on an indexed table) and reported as promises to fit the Outbox interface.
 */
export class SqliteOutbox implements Outbox {
  readonly durable: boolean = true;
  readonly deadLetters: DeadLetterStore;
  readonly path: string;
  readonly #synchronous: "normal" | "full";
  #db: DatabaseSync | undefined;
  #st: Statements | undefined;
  #stopped = false;
  /** Orders `revisions` rows by their last change (the least recently changed are dropped first). */
  #touched = 0;

  constructor(config: Pick<SqliteOutboxConfig, "path"> & Partial<Pick<SqliteOutboxConfig, "synchronous">>) {
    this.path = config.path;
    this.#synchronous = config.synchronous ?? "normal";
    this.deadLetters = {
      add: async (letter, max) => this.#addLetter(letter, max),
      get: async (id) => {
        const row = this.#use((st) => st.letterGet.get(id)) as { body: string } | undefined;
        return row ? (JSON.parse(row.body) as DeadLetter) : undefined;
      },
      list: async (query) => this.#listLetters(query),
      remove: async (id) => this.#use((st) => Number(st.letterDelete.run(id).changes) > 0),
      counts: async () => {
        const rows = this.#use((st) => st.letterCounts.all()) as unknown as { sink: string; n: number }[];
        return Object.fromEntries(rows.map((r) => [r.sink, r.n]));
      },
    };
  }

  async start(): Promise<void> {
    if (this.#db) return;
    this.#stopped = false;
    try {
      if (this.path !== ":memory:") mkdirSync(dirname(this.path), { recursive: true });
      const db = new DatabaseSync(this.path, { timeout: 1000 });
      try {
        db.exec("PRAGMA locking_mode = EXCLUSIVE");
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(`PRAGMA synchronous = ${this.#synchronous === "full" ? "FULL" : "NORMAL"}`);
        const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
        if (version > SCHEMA_VERSION) {
          throw new SecmonError(
            "CONFIG_INVALID",
            `outbox ${this.path} has schema version ${version}, newer than this detector (${SCHEMA_VERSION})`,
          );
        }
        db.exec("BEGIN IMMEDIATE");
        db.exec(SCHEMA);
        const columns = db.prepare("PRAGMA table_info(deliveries)").all() as { name: string }[];
        if (!columns.some((c) => c.name === "rev")) db.exec("ALTER TABLE deliveries ADD COLUMN rev INTEGER");
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        db.exec("COMMIT");
        this.#st = prepare(db);
        this.#touched = (this.#st.lastTouched.get() as { t: number | null }).t ?? 0;
        // the process that held these leases is gone (the file is ours alone)
        this.#st.releaseAll.run();
      } catch (err) {
        db.close();
        throw err;
      }
      this.#db = db;
    } catch (err) {
      this.#st = undefined;
      if (err instanceof SecmonError) throw err;
      const locked = /locked|busy/i.test(String((err as Error).message));
      throw new SecmonError(
        "STORE_UNAVAILABLE",
        locked
          ? `outbox ${this.path} is in use by another process`
          : `cannot open outbox ${this.path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const db = this.#db;
    this.#db = undefined;
    this.#st = undefined;
    db?.close();
  }

  async enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]> {
    return this.#tx((st) => {
      const depth = new Map<string, number>();
      const depthOf = (sink: string): number => {
        let n = depth.get(sink);
        if (n === undefined) {
          n = (st.depth.get(sink) as { n: number }).n;
          depth.set(sink, n);
        }
        return n;
      };
      const append = (d: NewDelivery, rev: number): EnqueueOutcome => {
        const n = depthOf(d.sink);
        if (n >= limits.maxDepth(d.sink)) return "full";
        st.insert.run(d.id, d.sink, d.type, d.alert.id, JSON.stringify(d.alert), d.enqueuedAt, d.dueAt, rev);
        depth.set(d.sink, n + 1);
        return "queued";
      };
      return deliveries.map((d): EnqueueOutcome => {
        if (st.known.get(d.id, d.id) !== undefined) return "duplicate";
        const taken = st.taken.get(d.sink, d.alert.id) as { rev: number; created: number } | undefined;
        const last = st.newestOfAlert.get(d.sink, d.alert.id) as
          Pick<DeliveryRow, "seq" | "type" | "lease_owner" | "rev"> | undefined;
        const step = enqueueStep(
          d,
          taken && { rev: taken.rev, created: taken.created === 1 },
          last && {
            seq: last.seq,
            rev: last.rev ?? -Infinity,
            type: last.type as AlertEventType,
            leased: last.lease_owner !== null,
          },
        );
        let outcome: EnqueueOutcome;
        switch (step.action) {
          case "duplicate":
          case "superseded":
            return step.action;
          case "coalesce":
            st.coalesce.run(d.id, JSON.stringify(d.alert), step.rev, step.waiting.seq);
            outcome = "coalesced";
            break;
          case "take_over":
            st.takeOver.run(d.id, d.type, d.dueAt, step.waiting.seq);
            outcome = "coalesced";
            break;
          case "append":
            outcome = append(step.delivery, step.rev);
            break;
        }
        if (outcome !== "full") {
          const { rev, created } = step.taken;
          st.take.run(d.sink, d.alert.id, rev, created ? 1 : 0, ++this.#touched);
          if (!taken) {
            const max = rememberedAlerts(limits.maxDepth(d.sink));
            const excess = (st.takenCount.get(d.sink) as { n: number }).n - max;
            if (excess > 0) st.takenTrim.run(d.sink, d.sink, excess);
          }
        }
        return outcome;
      });
    });
  }

  async claim(o: ClaimOptions): Promise<OutboxItem[]> {
    return this.#tx((st) => {
      let seqs: number[];
      if (!o.together) {
        seqs = (st.claimHeads.all(o.sink, o.now, o.now, o.owner, o.limit) as unknown as DeliveryRow[]).map(
          (r) => r.seq,
        );
      } else {
        seqs = [];
        const blocked = new Set<string>();
        const rows = st.scanSink.all(o.sink) as unknown as Pick<
          DeliveryRow,
          "seq" | "alert_id" | "due_at" | "lease_owner" | "lease_until"
        >[];
        for (const r of rows) {
          if (seqs.length >= o.limit) break;
          if (blocked.has(r.alert_id)) continue;
          const claimable =
            r.due_at <= o.now &&
            (r.lease_owner === null || (r.lease_owner !== o.owner && r.lease_until <= o.now));
          if (!claimable) {
            blocked.add(r.alert_id);
            continue;
          }
          seqs.push(r.seq);
        }
      }
      return seqs.map((seq) => {
        st.lease.run(o.owner, o.now + o.leaseMs, o.now, seq);
        return toItem(st.bySeq.get(seq) as unknown as DeliveryRow);
      });
    });
  }

  async ack(id: string): Promise<void> {
    this.#use((st) => st.ack.run(id));
  }

  async nack(id: string, owner: string, retry: Retry): Promise<void> {
    this.#use((st) => st.nack.run(retry.dueAt, retry.error, retry.status ?? null, id, owner));
  }

  async release(owner: string): Promise<void> {
    this.#use((st) => st.release.run(owner));
  }

  async nextDue(sink: string, owner: string): Promise<number | undefined> {
    const row = this.#use((st) => st.nextDue.get(owner, sink)) as { at: number | null } | undefined;
    return row?.at ?? undefined;
  }

  async backlog(): Promise<Record<string, SinkBacklog>> {
    const rows = this.#use((st) => st.backlog.all()) as unknown as {
      sink: string;
      depth: number;
      oldest: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.sink, { depth: r.depth, oldestEnqueuedAt: r.oldest }]));
  }

  async replay(id: string, now: number): Promise<Delivery | undefined> {
    return this.#tx((st) => {
      const row = st.letterGet.get(id) as { body: string } | undefined;
      if (!row) return undefined;
      const letter = JSON.parse(row.body) as DeadLetter;
      st.letterDelete.run(id);
      st.ack.run(id);
      const { alert } = letter;
      st.insert.run(
        id,
        letter.sink,
        letter.type,
        alert.id,
        JSON.stringify(alert),
        now,
        now,
        revisionOf(alert),
      );
      return { id, sink: letter.sink, type: letter.type, alert: letter.alert, enqueuedAt: now };
    });
  }

  #addLetter(letter: DeadLetter, maxPerSink: number): void {
    this.#tx((st) => {
      st.ack.run(letter.id);
      st.letterPut.run(letter.id, letter.sink, JSON.stringify(letter));
      st.letterTrim.run(letter.sink, letter.sink, maxPerSink);
    });
  }

  #listLetters(query: DeadLetterQuery): DeadLetterPage {
    let below = Number.MAX_SAFE_INTEGER;
    if (query.cursor !== undefined) {
      const seq = decodeCursor(query.cursor);
      if (seq === undefined)
        throw new SecmonError("BAD_REQUEST", "cursor: not a cursor returned by this API");
      below = seq;
    }
    const rows = this.#use((st) =>
      query.sink === undefined
        ? st.letterPage.all(below, query.limit + 1)
        : st.letterPageOfSink.all(below, query.sink, query.limit + 1),
    ) as unknown as { seq: number; body: string }[];
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      dead_letters: page.map((r) => JSON.parse(r.body) as DeadLetter),
      ...(rows.length > page.length && last ? { next_cursor: encodeCursor(last.seq) } : {}),
    };
  }

  #use<T>(fn: (st: Statements) => T): T {
    const st = this.#st;
    if (!st) {
      throw new SecmonError(
        "SHUTTING_DOWN",
        this.#stopped ? "the outbox is closed" : "the outbox is not started",
      );
    }
    try {
      return fn(st);
    } catch (err) {
      throw storeError(err);
    }
  }

  /** One IMMEDIATE transaction: committed (and, per `synchronous`, on disk) before it returns. */
  #tx<T>(fn: (st: Statements) => T): T {
    return this.#use((st) => {
      const db = this.#db as DatabaseSync;
      db.exec("BEGIN IMMEDIATE");
      try {
        const out = fn(st);
        db.exec("COMMIT");
        return out;
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    });
  }
}

function storeError(err: unknown): SecmonError {
  if (err instanceof SecmonError) return err;
  return new SecmonError("STORE_UNAVAILABLE", `outbox: ${(err as Error).message}`, { cause: err });
}

function toItem(r: DeliveryRow): OutboxItem {
  return {
    id: r.id,
    sink: r.sink,
    type: r.type as AlertEventType,
    alert: JSON.parse(r.alert) as Alert,
    enqueuedAt: r.enqueued_at,
    dueAt: r.due_at,
    attempts: r.attempts,
    firstAttemptAt: r.first_attempt_at,
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    ...(r.last_status !== null ? { lastStatus: r.last_status } : {}),
  };
}
