import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import type { Attributes, SecurityEvent } from "../../src/event.ts";

export const DAY0 = Date.parse("2026-11-21T00:00:00.000Z");
export const H = 3_600_000;

export function ev(
  name: string,
  time: number,
  attributes: Attributes = {},
  service = "checkout",
): SecurityEvent {
  return { name, time, service, attributes, resource: {} };
}

export function failedLogin(
  time: number,
  address: string,
  hash: string,
  service = "checkout",
): SecurityEvent {
  return ev(
    EVENT.AUTH_LOGIN,
    time,
    { [ATTR.CLIENT_ADDRESS]: address, [ATTR.USER_HASH]: hash, [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE },
    service,
  );
}

export function okLogin(time: number, address: string, hash: string): SecurityEvent {
  return ev(EVENT.AUTH_LOGIN, time, {
    [ATTR.CLIENT_ADDRESS]: address,
    [ATTR.USER_HASH]: hash,
    [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.SUCCESS,
  });
}
