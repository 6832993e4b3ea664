/**
 * A detector stand-in for the kill -9 test, run as its own process:
 *   enqueue <db> <url> <n>: stores n deliveries in the SQLite outbox, prints their ids, then
 *     starts delivering them to <url> (which never answers) and waits to be killed;
 *   resume <db> <url>: opens the outbox, delivers what it holds to <url>, prints "done", exits.
 */
import { alertFromFiring } from "../../src/alerts/build.ts";
import { SqliteOutbox } from "../../src/outbox/sqlite.ts";
import type { NewDelivery } from "../../src/outbox/types.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { firing } from "../alerts/fixtures.ts";

const [mode, path, url, count] = process.argv.slice(2);
if (!path || !url) throw new Error("usage: crash-child.ts enqueue|resume <db> <url> [n]");

const outbox = new SqliteOutbox({ path, synchronous: "normal" });
await outbox.start();
const sinks = sinksSectionSchema.parse([
  {
    type: "webhook",
    name: "hook",
    url,
    secret: { env: "HOOK_SECRET" },
    max_concurrency: 2,
    timeout_seconds: 60,
  },
]);
const dispatcher = createSinkDispatcher(sinks, { env: process.env, outbox, drainMs: 100 });

if (mode === "enqueue") {
  const now = Date.now();
  const deliveries: NewDelivery[] = Array.from({ length: Number(count ?? 5) }, (_, i) => {
    const f = firing({ rule: `crash_${i}`, lastSeen: now });
    return {
      id: `dlv_CRASH${process.pid}${String(i).padStart(4, "0")}`,
      sink: "hook",
      type: "alert.created",
      alert: alertFromFiring(f, `alt_CRASH${i}`, now),
      enqueuedAt: now,
      dueAt: now,
    };
  });
  await outbox.enqueue(deliveries, { maxDepth: () => 1000 });
  process.stdout.write(`${JSON.stringify({ enqueued: deliveries.map((d) => d.id) })}\n`);
  await dispatcher.start();
  // deliveries now hang in flight; the test kills this process with SIGKILL
  setInterval(() => undefined, 1000);
} else {
  await dispatcher.start();
  await dispatcher.whenIdle();
  await dispatcher.stop();
  await outbox.stop();
  process.stdout.write("done\n");
}
