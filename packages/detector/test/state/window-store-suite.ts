import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import {
  windowGeometry,
  type AggregateResult,
  type DistinctAddOp,
  type DistinctReadOp,
  type StateOp,
  type WindowAddOp,
  type WindowReadOp,
  type WindowStore,
} from "../../src/state/types.ts";

/**
 * The WindowStore contract, run against any implementation: `describeWindowStore("redis", …)`
 * runs the very same cases as the memory store. Every case uses fresh keys and batch ids, so a
 * shared backend needs no cleanup between cases.
 */
export function describeWindowStore(name: string, factory: () => WindowStore | Promise<WindowStore>): void {
  describe(`WindowStore contract: ${name}`, () => {
    const T0 = Date.parse("2026-11-21T10:00:00.000Z");
    // 300 s window → 5 s buckets; 60 s lateness.
    const g = windowGeometry(300, 60);
    let store: WindowStore;
    let ns: string;
    let batchNo = 0;

    beforeEach(async () => {
      store = await factory();
      await store.start();
      ns = randomUUID();
    });
    afterEach(async () => {
      await store.stop();
    });

    const key = (k: string) => `${ns}|${k}`;
    const rule = "suite_rule";
    const s = (sec: number) => T0 + sec * 1000;
    const add = (k: string, secs: number[], amounts?: number[]): WindowAddOp => ({
      type: "window_add",
      rule,
      key: key(k),
      ...g,
      times: secs.map(s),
      amounts: amounts ?? secs.map(() => 1),
    });
    const read = (k: string, secs: number[]): WindowReadOp => ({
      type: "window_read",
      rule,
      key: key(k),
      ...g,
      times: secs.map(s),
    });
    const dadd = (k: string, secs: number[], members: string[], maxMembers = 1000): DistinctAddOp => ({
      type: "distinct_add",
      rule,
      key: key(k),
      ...g,
      times: secs.map(s),
      members,
      maxMembers,
    });
    const dread = (k: string, secs: number[]): DistinctReadOp => ({
      type: "distinct_read",
      rule,
      key: key(k),
      ...g,
      times: secs.map(s),
    });
    const apply = async (...ops: StateOp[]): Promise<AggregateResult[]> =>
      store.apply(ops, { batchId: `${ns}:${batchNo++}` });

    it("answers an empty batch with no results", async () => {
      expect(await apply()).toEqual([]);
    });

    it("counts points and reports the window's end and oldest bucket", async () => {
      const [r] = await apply(add("a", [0, 1, 2.5]));
      expect(r).toEqual({ type: "aggregate", value: 3, at: s(2.5), oldest: s(0), late: 0 });
      const [r2] = await apply(add("a", [7]));
      expect(r2).toMatchObject({ value: 4, at: s(7), oldest: s(0) });
    });

    it("sums amounts", async () => {
      const [r] = await apply(add("sum", [0, 1], [250_000, 750_000]));
      expect(r!.value).toBe(1_000_000);
    });

    it("answers one result per op, in op order, with keys kept apart", async () => {
      const rs = await apply(add("x", [0]), add("y", [0, 1]), add("x", [2]));
      expect(rs.map((r) => r.value)).toEqual([1, 2, 2]);
    });

    it("gives the largest value its points reached (the window may slide within one op)", async () => {
      // 3 points, then one 400 s later: the window no longer holds the first three.
      const [r] = await apply(add("slide", [0, 1, 2, 402]));
      expect(r).toMatchObject({ value: 3, at: s(2) });
    });

    it("keeps every event of (t − W, t] and drops it between W and W + bucket", async () => {
      await apply(add("edge", [0]));
      // 299 s later: still inside the 300 s window.
      expect((await apply(read("edge", [299])))[0]!.value).toBe(1);
      // 305 s (W + one 5 s bucket) later: gone.
      expect((await apply(read("edge", [305])))[0]!.value).toBe(0);
      const [r] = await apply(add("edge", [306]));
      expect(r).toMatchObject({ value: 1, oldest: s(305) });
    });

    it("counts an out-of-order point within the lateness and evaluates at the group's newest time", async () => {
      await apply(add("ooo", [100]));
      const [r] = await apply(add("ooo", [50]));
      expect(r).toEqual({ type: "aggregate", value: 2, at: s(100), oldest: s(50), late: 0 });
    });

    it("reports a point later than the lateness and does not count it", async () => {
      await apply(add("late", [100]));
      const [r] = await apply(add("late", [39, 41]));
      expect(r).toMatchObject({ value: 2, late: 1 });
      const [only] = await apply(add("late2", [100]), add("late2", [10]));
      expect(only).toMatchObject({ value: 1 });
      const [lateOnly] = await apply(add("late2", [20]));
      expect(lateOnly).toEqual({ type: "aggregate", value: 0, at: null, oldest: null, late: 1 });
    });

    it("reads a window at given times without changing it; later buckets do not count", async () => {
      await apply(add("r", [0, 10, 20]));
      const [r] = await apply(read("r", [10]));
      expect(r).toMatchObject({ value: 2, at: s(10), oldest: s(0) });
      expect((await apply(read("r", [20])))[0]!.value).toBe(3);
      expect((await apply(read("missing", [20])))[0]).toEqual({
        type: "aggregate",
        value: 0,
        at: s(20),
        oldest: null,
        late: 0,
      });
    });

    it("reports a read later than the lateness", async () => {
      await apply(add("rl", [200]));
      const [r] = await apply(read("rl", [100]));
      expect(r).toMatchObject({ late: 1, at: null });
    });

    it("counts distinct members; repeats count once", async () => {
      const [r] = await apply(dadd("d", [0, 1, 2, 3], ["u1", "u2", "u1", "u3"]));
      expect(r).toMatchObject({ value: 3, at: s(3), oldest: s(0) });
      const [r2] = await apply(dadd("d", [4], ["u2"]));
      expect(r2!.value).toBe(3);
    });

    it("forgets distinct members that left the window", async () => {
      await apply(dadd("dw", [0, 1], ["u1", "u2"]));
      const [r] = await apply(dadd("dw", [310], ["u3"]));
      expect(r).toMatchObject({ value: 1, oldest: s(310) });
      // a member seen again is back in the window
      const [r2] = await apply(dadd("dw", [311], ["u1"]));
      expect(r2!.value).toBe(2);
    });

    it("counts an out-of-order distinct member and reports a late one", async () => {
      await apply(dadd("dl", [100], ["u1"]));
      const [r] = await apply(dadd("dl", [90, 10], ["u2", "u3"]));
      expect(r).toMatchObject({ value: 2, at: s(100), late: 1 });
    });

    it("keeps at most maxMembers distinct members per group (the least recently seen go first)", async () => {
      const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
      const [r] = await apply(
        dadd(
          "cap",
          members.map((_, i) => i * 0.1),
          members,
          20,
        ),
      );
      expect(r!.value).toBe(20);
    });

    it("reads distinct counts without changing them", async () => {
      await apply(dadd("dr", [0, 10], ["a", "b"]));
      expect((await apply(dread("dr", [5])))[0]!.value).toBe(1);
      expect((await apply(dread("dr", [10])))[0]!.value).toBe(2);
      expect((await apply(dread("dr", [10])))[0]!.value).toBe(2);
    });

    it("applies a batch id once: a retry answers the first results and counts nothing twice", async () => {
      const batchId = `${ns}:retry`;
      const ops = [add("idem", [0, 1]), dadd("idem-d", [0], ["u1"])];
      const first = await store.apply(ops, { batchId });
      const again = await store.apply(ops, { batchId });
      expect(again).toEqual(first);
      const [after] = await apply(add("idem", [2]));
      expect(after!.value).toBe(3);
    });

    it("takes ops that went through JSON (plain data)", async () => {
      const ops = JSON.parse(JSON.stringify([add("json", [0, 1]), dadd("json-d", [0], ["u"])])) as StateOp[];
      const rs = await store.apply(ops, { batchId: `${ns}:json` });
      expect(rs.map((r) => r.value)).toEqual([2, 1]);
    });

    it("stops idempotently and then rejects with STORE_UNAVAILABLE", async () => {
      await store.stop();
      await store.stop();
      const err = await store
        .apply([add("stopped", [0])], { batchId: `${ns}:stopped` })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecmonError);
      expect((err as SecmonError).code).toBe("STORE_UNAVAILABLE");
      expect((err as SecmonError).retryable).toBe(true);
    });

    it("can be stopped before it was started", async () => {
      const fresh = await factory();
      await expect(fresh.stop()).resolves.toBeUndefined();
    });
  });
}
