import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../sinks/helpers.ts";
import { startReceiver } from "../sinks/receiver.ts";

const dir = mkdtempSync(join(tmpdir(), "secmon-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CHILD = new URL("./crash-child.ts", import.meta.url).pathname;

function run(args: string[]) {
  const child = spawn(process.execPath, ["--conditions=@secmon/source", "--no-warnings", CHILD, ...args], {
    env: { ...process.env, HOOK_SECRET: "crash-secret" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, out: () => out, err: () => err };
}

describe("durable outbox across a real kill -9", () => {
  it("delivers after a restart exactly the deliveries enqueued before the crash, each once", async () => {
    const db = join(dir, "outbox.db");
    const hanging = await startReceiver(() => {}); // accepts requests, never answers
    const good = await startReceiver();
    try {
      const first = run(["enqueue", db, hanging.url, "7"]);
      await waitFor(() => first.out().includes("\n") || first.child.exitCode !== null, 20_000);
      const { enqueued } = JSON.parse(first.out().split("\n")[0]!) as { enqueued: string[] };
      expect(enqueued).toHaveLength(7);
      // two attempts are in flight (leased in the outbox) when the process dies
      await waitFor(() => hanging.received.length >= 2, 20_000);
      first.child.kill("SIGKILL");
      expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });

      const second = run(["resume", db, good.url]);
      const exit = await Promise.race([
        second.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`resume hung: ${second.err()}`)), 30_000),
        ),
      ]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(second.out()).toBe("done\n");
      const ids = good.received.map((r) => r.headers["x-secmon-delivery"] as string);
      expect([...ids].sort()).toEqual([...enqueued].sort());
      for (const r of hanging.received) expect(enqueued).toContain(r.headers["x-secmon-delivery"]);
    } finally {
      await hanging.close();
      await good.close();
    }
  }, 60_000);
});
