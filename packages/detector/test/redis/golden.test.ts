import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../src/engine/registry.ts";
import { builtinRulesDir } from "../../src/rules/compile.ts";
import { discoverGoldenCases, runGoldenCase } from "../../src/rules/golden.ts";
import { loadRuleFiles } from "../../src/rules/loader.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { RedisServer } from "./server.ts";

/**
 * The default pack's golden cases (rules/testdata), run by the same runner as
 * test/rules/golden.test.ts but on the Redis window store: one redis-server for the file, a key
 * prefix per case (the runner's batch ids repeat from case to case).
 */
const dir = builtinRulesDir();
const loaded = loadRuleFiles([dir], defaultRegistry());
const cases = discoverGoldenCases(join(dir, "testdata"));

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

describe("golden cases of the default pack on the Redis window store", () => {
  it("finds the cases", () => {
    expect(cases.length).toBeGreaterThan(100);
  });

  it.each(cases.map((c, i) => [`${c.rule}/${c.name}`, c, i] as const))("%s", async (_name, c, i) => {
    const outcome = await runGoldenCase(c, loaded.rules, {
      windowStore: () => new RedisWindowStore({ connection: server.connection({ prefix: `golden${i}:` }) }),
    });
    expect(outcome.problems).toEqual([]);
    expect(outcome.pass).toBe(true);
  });
});
