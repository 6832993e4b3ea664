/**
 * The Redis benchmark's traffic (shared by run.ts and profile.ts): deterministic batches of
 * realistic events — 75 % api.request (1 % 404s), 25 % auth.login (a quarter failed), 5000
 * addresses, 20 000 users, 2 ms apart.
 */
import { ATTR, AUTH_OUTCOME, EVENT, RESOURCE_ATTR } from "../../packages/semconv/src/index.ts";
import type { SecurityEvent } from "../../packages/detector/src/event.ts";
import { prng } from "../detector/load/requests.ts";

export const BATCH = 512;

/** `count` batches of BATCH events, the first event at `t0` (ms). */
export function makeBatches(count: number, t0: number): SecurityEvent[][] {
  const next = prng(42);
  const rnd = (n: number) => Math.floor(next() * n);
  const makeEvent = (n: number): SecurityEvent => {
    const time = t0 + n * 2;
    const address = `10.0.${rnd(20)}.${rnd(250)}`;
    const resource = { [RESOURCE_ATTR.SERVICE_NAME]: "checkout" };
    if (rnd(4) > 0) {
      return {
        name: EVENT.API_REQUEST,
        time,
        service: "checkout",
        resource,
        attributes: {
          [ATTR.CLIENT_ADDRESS]: address,
          [ATTR.USER_ID]: `u${rnd(20_000)}`,
          [ATTR.HTTP_REQUEST_METHOD]: "GET",
          [ATTR.HTTP_ROUTE]: "/api/items/:id",
          [ATTR.HTTP_RESPONSE_STATUS_CODE]: rnd(100) === 0 ? 404 : 200,
          [ATTR.HTTP_RESPONSE_BODY_SIZE]: 1200,
        },
      };
    }
    return {
      name: EVENT.AUTH_LOGIN,
      time,
      service: "checkout",
      resource,
      attributes: {
        [ATTR.CLIENT_ADDRESS]: address,
        [ATTR.USER_HASH]: rnd(20_000).toString(16).padStart(32, "0"),
        [ATTR.AUTH_OUTCOME]: rnd(4) === 0 ? AUTH_OUTCOME.FAILURE : AUTH_OUTCOME.SUCCESS,
        [ATTR.AUTH_METHOD]: "password",
      },
    };
  };
  const batches: SecurityEvent[][] = [];
  for (let b = 0; b < count; b++)
    batches.push(Array.from({ length: BATCH }, (_, i) => makeEvent(b * BATCH + i)));
  return batches;
}
