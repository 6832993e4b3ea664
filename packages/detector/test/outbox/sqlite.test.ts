import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
