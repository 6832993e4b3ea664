/**
 * Per-event cost of the observers the pipeline calls for every evaluated batch. Not a test:
 * run `pnpm exec node --conditions=@secmon/source packages/detector/test/report/observe-cost.ts`.
 * The mix: 60% failed sign-ins from 2,000 addresses (a tenth IPv6) and 5,000 identifiers,
 * 20% successes, 20% API requests, batches of 500 events.
 */
import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import type { Attributes, SecurityEvent } from "../../src/event.ts";
import { MemoryReportStore } from "../../src/report/memory-store.ts";
import { RecentEvents } from "../../src/report/recent-events.ts";
import { SecurityReporter } from "../../src/report/reporter.ts";

const N = 400_000;
const BATCH = 500;
const start = Date.parse("2026-11-21T00:00:00Z");
const events: SecurityEvent[] = [];
for (let i = 0; i < N; i++) {
  const a = (i * 7919) % 2000;
  const address = a % 10 === 0 ? `2001:db8:${a}::${i % 50}` : `10.${a >> 8}.${a & 255}.${i % 3}`;
  const kind = i % 5;
  const attributes: Attributes =
    kind < 3
      ? {
          [ATTR.CLIENT_ADDRESS]: address,
          [ATTR.USER_HASH]: `h${(i * 31) % 5000}`,
          [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
        }
      : kind === 3
        ? {
            [ATTR.CLIENT_ADDRESS]: address,
            [ATTR.USER_HASH]: `h${i % 5000}`,
            [ATTR.USER_ID]: `u${i % 5000}`,
            [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.SUCCESS,
          }
        : { [ATTR.CLIENT_ADDRESS]: address, [ATTR.USER_ID]: `u${i % 5000}` };
  events.push({
    name: kind < 4 ? EVENT.AUTH_LOGIN : EVENT.API_REQUEST,
    time: start + i * 10,
    service: `svc${i % 4}`,
    attributes,
    resource: {},
  });
}

function measure(label: string, observe: (batch: SecurityEvent[]) => void): void {
  for (let round = 0; round < 2; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i += BATCH) observe(events.slice(i, i + BATCH));
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (round === 1)
      console.log(`${label}: ${ns.toFixed(0)} ns/event (${(1e9 / ns / 1000).toFixed(0)}k events/s)`);
  }
}

const clock = () => start + N * 10;
const recent = new RecentEvents();
// 200 alerted addresses (groups with alerts are what the index keeps)
for (let a = 0; a < 2000; a += 10)
  recent.watch({ [ATTR.CLIENT_ADDRESS]: `10.${a >> 8}.${a & 255}.${a % 3}` });
const reporter = new SecurityReporter({ store: new MemoryReportStore({ clock }), clock });
measure("RecentEvents.observe", (b) => recent.observe(b));
measure("SecurityReporter.observe", (b) => reporter.observe(b));
