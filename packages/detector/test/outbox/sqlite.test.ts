import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteOutbox } from "../../src/outbox/sqlite.ts";
import { T0 } from "../alerts/fixtures.ts";
import { delivery, letterOf, outboxSuite } from "./outbox-suite.ts";

const dir = mkdtempSync(join(tmpdir(), "secmon-outbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(dir, `o${++files}`, "outbox.db");

outboxSuite("SqliteOutbox", async () => {
  const box = new SqliteOutbox({ path: fresh() });
  await box.start();
  return box;
});

describe("SqliteOutbox", () => {
  it("keeps deliveries, attempts and dead letters across a restart, and hands back old leases", async () => {
    const path = fresh();
    const box = new SqliteOutbox({ path, synchronous: "full" });
    await box.start();
    await box.start(); // idempotent
    const [a, b, c] = [delivery("alt_a"), delivery("alt_b"), delivery("alt_c")];
    await box.enqueue([a!, b!, c!], { maxDepth: () => 10 });
    await box.claim({ sink: "hook", limit: 2, now: T0, leaseMs: 600_000, owner: "old" });
    await box.nack(b!.id, "old", { dueAt: T0 + 5000, error: "HTTP 503", status: 503 });
    await box.deadLetters.add(letterOf(c!), 10);
    await box.stop();

    const again = new SqliteOutbox({ path });
    await again.start();
    expect(await again.backlog()).toEqual({ hook: { depth: 2, oldestEnqueuedAt: a!.enqueuedAt } });
    // a's lease died with its process: claimable at once, attempt 2
    const items = await again.claim({ sink: "hook", limit: 10, now: T0 + 5000, leaseMs: 1000, owner: "new" });
    expect(items.map((i) => [i.id, i.attempts, i.lastError])).toEqual([
      [a!.id, 2, undefined],
      [b!.id, 2, "HTTP 503"],
    ]);
    expect(items[0]?.alert).toEqual(a!.alert);
    expect((await again.deadLetters.list({ limit: 10 })).dead_letters).toEqual([letterOf(c!)]);
    await again.stop();
  });

  it("remembers the revisions it took across a restart", async () => {
    const path = fresh();
    const box = new SqliteOutbox({ path });
    await box.start();
    const [older, newer] = [delivery("alt_a", "alert.updated"), delivery("alt_a", "alert.updated")];
    await box.enqueue([newer], { maxDepth: () => 10 });
    await box.claim({ sink: "hook", limit: 1, now: T0, leaseMs: 1000, owner: "me" });
    await box.ack(newer.id);
    await box.stop();
    const again = new SqliteOutbox({ path });
    await again.start();
    expect(await again.enqueue([older], { maxDepth: () => 10 })).toEqual(["superseded"]);
    await again.stop();
  });

  it("opens a file written before revisions were kept, and orders by them from then on", async () => {
    const path = fresh();
    mkdirSync(dirname(path), { recursive: true });
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE deliveries (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, sink TEXT NOT NULL, type TEXT NOT NULL,
      alert_id TEXT NOT NULL, alert TEXT NOT NULL, enqueued_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, first_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT,
      last_status INTEGER, lease_owner TEXT, lease_until INTEGER NOT NULL DEFAULT 0);
      PRAGMA user_version = 1;`);
    const [waiting, older, newer] = [
      delivery("alt_a", "alert.updated"),
      delivery("alt_a", "alert.updated"),
      delivery("alt_a", "alert.updated"),
    ];
    old
      .prepare(
        `INSERT INTO deliveries (id, sink, type, alert_id, alert, enqueued_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(waiting.id, waiting.sink, waiting.type, "alt_a", JSON.stringify(waiting.alert), T0, T0);
    old.close();
    const box = new SqliteOutbox({ path });
    await box.start();
    // the old row has no revision: a newer update replaces it, after which an older one is superseded
    expect(await box.enqueue([newer, older], { maxDepth: () => 10 })).toEqual(["coalesced", "superseded"]);
    const items = await box.claim({ sink: "hook", limit: 5, now: T0, leaseMs: 1000, owner: "me" });
    expect(items.map((i) => [i.id, i.enqueuedAt])).toEqual([[newer.id, T0]]);
    await box.stop();
  });

  it("belongs to one process at a time, and reports a file it cannot open", async () => {
    const path = fresh();
    const one = new SqliteOutbox({ path });
    await one.start();
    const two = new SqliteOutbox({ path });
    await expect(two.start()).rejects.toMatchObject({ code: "STORE_UNAVAILABLE", message: /in use/ });
    await one.stop();
    await two.start();
    await two.stop();

    const notADb = join(dir, "garbage.db");
    writeFileSync(notADb, "this is not a database, just text that is long enough to be read as a header");
    await expect(new SqliteOutbox({ path: notADb }).start()).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
    });
    await expect(
      new SqliteOutbox({ path: fresh() }).claim({ sink: "x", limit: 1, now: 0, leaseMs: 1, owner: "o" }),
    ).rejects.toMatchObject({
      code: "SHUTTING_DOWN",
    });
  });
});
