import { afterEach, describe, expect, it } from "vitest";
import {
  zeroCounters,
  type HourTally,
  type ReportCounters,
  type ReportStore,
} from "../../src/report/store.ts";
import { DAY0, H } from "./events.ts";

export interface ReportStoreSuiteOptions {
  readonly clock: () => number;
  readonly topKCapacity?: number;
  readonly retentionHours?: number;
}

export type ReportStoreFactory = (
  options: ReportStoreSuiteOptions,
) => Promise<ReportStore & { stop?: () => Promise<void> }>;

function tally(
  hour: number,
  counters: Partial<ReportCounters>,
  addresses: string[] = [],
  identifiers: Record<string, number> = {},
  failedAddresses: Record<string, number> = {},
): HourTally {
  return {
    hour,
    counters: { ...zeroCounters(), ...counters },
    clientAddresses: new Set(addresses),
    failuresByIdentifier: new Map(Object.entries(identifiers)),
    failuresByAddress: new Map(Object.entries(failedAddresses)),
  };
}

/**
 * The ReportStore contract, run against every implementation. `exactUniques`: whether unique
 * addresses are counted exactly (memory) or estimated (Redis HyperLogLog; exact for these small
 * sets, but reported as an estimate).
 */
export function describeReportStore(
  name: string,
  factory: ReportStoreFactory,
  traits: { readonly exactUniques: boolean },
): void {
  describe(`ReportStore contract: ${name}`, () => {
    const stores: (ReportStore & { stop?: () => Promise<void> })[] = [];
    const make = async (options: ReportStoreSuiteOptions) => {
      const s = await factory(options);
      stores.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.stop?.();
    });
    const now = DAY0 + 10 * H + 60_000;

    it("ignores a second add with the same batch id (a sender's retry), not one with another or none", async () => {
      const store = await make({ clock: () => now });
      const tally = (events: number): HourTally => ({
        hour: DAY0 + 10 * H,
        counters: { ...zeroCounters(), events, sign_ins: events, failed_sign_ins: events },
        clientAddresses: new Set(["192.0.2.1"]),
        failuresByIdentifier: new Map([["h1", events]]),
        failuresByAddress: new Map([["192.0.2.1", events]]),
      });
      await store.add([tally(3)], { batchId: "req-1" });
      await store.add([tally(3)], { batchId: "req-1" });
      await store.add([tally(2)], { batchId: "req-2" });
      await store.add([tally(1)]);
      const s = await store.summarize(DAY0, DAY0 + 24 * H, 5);
      expect(s.counters).toMatchObject({ events: 6, failed_sign_ins: 6 });
      expect(s.topFailedIdentifiers).toEqual([{ value: "h1", count: 6, error: 0 }]);
    });

    it("adds counters per hour and sums a range of hours [from, to)", async () => {
      const store = await make({ clock: () => now });
      await store.add([
        tally(DAY0 + 8 * H, { events: 5, sign_ins: 3, failed_sign_ins: 2 }),
        tally(DAY0 + 9 * H, { events: 7, sign_ins: 1, locked_accounts: 1, password_resets: 2 }),
      ]);
      await store.add([tally(DAY0 + 9 * H, { events: 1, failed_sign_ins: 1 })]);
      const s = await store.summarize(DAY0 + 8 * H, DAY0 + 10 * H, 10);
      expect(s.counters).toEqual({
        events: 13,
        sign_ins: 4,
        failed_sign_ins: 3,
        locked_accounts: 1,
        password_resets: 2,
      });
      expect((await store.summarize(DAY0 + 9 * H, DAY0 + 10 * H, 10)).counters.events).toBe(8);
      expect(await store.countEvents(DAY0 + 8 * H, DAY0 + 9 * H)).toBe(5);
      expect(await store.countEvents(DAY0, DAY0 + 24 * H)).toBe(13);
      expect(await store.countEvents(DAY0 + 11 * H, DAY0 + 12 * H)).toBe(0);
    });

    it("counts unique client addresses across hours once", async () => {
      const store = await make({ clock: () => now });
      await store.add([
        tally(DAY0 + 8 * H, { events: 2 }, ["192.0.2.1", "192.0.2.2"]),
        tally(DAY0 + 9 * H, { events: 2 }, ["192.0.2.2", "2001:db8::/64"]),
      ]);
      const s = await store.summarize(DAY0, DAY0 + 24 * H, 10);
      expect(s.uniqueClientAddresses).toBe(3);
      expect(s.uniqueClientAddressesExact).toBe(traits.exactUniques);
      const empty = await store.summarize(DAY0 - 24 * H, DAY0, 10);
      expect(empty.uniqueClientAddresses).toBe(0);
      expect(empty.counters).toEqual(zeroCounters());
    });

    it("merges failure top lists over hours: count descending, ties by value, k entries, exact below capacity", async () => {
      const store = await make({ clock: () => now });
      await store.add([
        tally(DAY0 + 8 * H, { failed_sign_ins: 6 }, [], { aaaa: 3, bbbb: 1, cccc: 2 }, { "203.0.113.7": 4 }),
        tally(
          DAY0 + 9 * H,
          { failed_sign_ins: 4 },
          [],
          { bbbb: 2, dddd: 2 },
          { "203.0.113.7": 1, "192.0.2.9": 3 },
        ),
      ]);
      const s = await store.summarize(DAY0, DAY0 + 24 * H, 3);
      expect(s.topFailedIdentifiers).toEqual([
        { value: "aaaa", count: 3, error: 0 },
        { value: "bbbb", count: 3, error: 0 },
        { value: "cccc", count: 2, error: 0 },
      ]);
      expect(s.topFailedAddresses).toEqual([
        { value: "203.0.113.7", count: 5, error: 0 },
        { value: "192.0.2.9", count: 3, error: 0 },
      ]);
    });

    it("keeps heavy hitters past the sketch capacity and says the counts may overestimate", async () => {
      const store = await make({ clock: () => now, topKCapacity: 10 });
      const many: Record<string, number> = { heavy: 50 };
      for (let i = 0; i < 60; i++) many[`v${i}`] = 1;
      await store.add([tally(DAY0 + 9 * H, { failed_sign_ins: 110 }, [], many)]);
      await store.add([tally(DAY0 + 9 * H, {}, [], { late1: 1, late2: 1, heavy: 1 })]);
      const s = await store.summarize(DAY0, DAY0 + 24 * H, 5);
      expect(s.topFailedIdentifiers[0]).toMatchObject({ value: "heavy", count: 51, error: 0 });
      expect(s.topFailedIdentifiers.some((e) => e.error > 0)).toBe(true);
    });

    it("ignores hours older than the retention", async () => {
      const store = await make({ clock: () => now, retentionHours: 24 });
      await store.add([
        tally(DAY0 - 30 * H, { events: 9 }, ["192.0.2.1"], { old: 9 }),
        tally(DAY0 + 9 * H, { events: 1 }),
      ]);
      expect(await store.countEvents(DAY0 - 48 * H, DAY0 + 24 * H)).toBe(1);
      const s = await store.summarize(DAY0 - 48 * H, DAY0 + 24 * H, 10);
      expect(s.topFailedIdentifiers).toEqual([]);
      expect(s.uniqueClientAddresses).toBe(0);
    });
  });
}
