import { ATTR, EVENT } from "@secmon/semconv";
import type { Firing, SampleEvent } from "../../src/alerts/types.ts";

export const T0 = Date.parse("2026-11-21T10:00:00.000Z");

export function sample(time: number, extra: Record<string, string> = {}): SampleEvent {
  return {
    time: new Date(time).toISOString(),
    event_name: EVENT.AUTH_LOGIN,
    service: "checkout",
    attributes: { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.AUTH_OUTCOME]: "failure", ...extra },
  };
}

/** A brute_force firing for 203.0.113.7 whose trigger event happened at `lastSeen`. */
export function firing(overrides: Partial<Firing> = {}): Firing {
  const lastSeen = overrides.lastSeen ?? T0 + 100_000;
  const address = overrides.group?.[ATTR.CLIENT_ADDRESS] ?? "203.0.113.7";
  const rule = overrides.rule ?? "brute_force";
  return {
    rule,
    severity: "high",
    title: `Brute-force sign-in attempts from ${address}`,
    group: { [ATTR.CLIENT_ADDRESS]: address },
    groupKey: `${rule}|${ATTR.CLIENT_ADDRESS}=${address}`,
    value: 10,
    threshold: 10,
    windowSeconds: 300,
    firstSeen: lastSeen - 60_000,
    lastSeen,
    services: ["checkout"],
    indicators: [{ type: "ip", value: address, confidence: 0.8 }],
    recommendedActions: ["Block or challenge the source address"],
    responses: [{ action: "block_ip", target: address, until: new Date(lastSeen + 3_600_000).toISOString() }],
    traceIds: ["4bf92f3577b34da6a3ce929d0e0e4736"],
    sampleEvents: [sample(lastSeen)],
    suppressionSeconds: 300,
    receivedAt: lastSeen + 50,
    ...overrides,
  };
}

/** A clock tests move by hand. */
export function manualClock(start = T0 + 200_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
