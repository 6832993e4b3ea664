import { Detector, validateConfig } from "@secmon/detector";
import { ATTR, AUTH_FAILURE_REASON, AUTH_OUTCOME, EVENT } from "../../packages/semconv/src/index.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDetectorConfig } from "./helpers.ts";

/**
 * The batch id that makes a sender's retry idempotent is a digest of the request bytes. Bytes
 * that carry the events' times identify them; bytes without any time (the events are dated at
 * arrival) do not: the same failed sign-in posted twelve times by a script is twelve failures.
 */
describe("the same request bytes sent again", () => {
  let detector: Detector;

  beforeAll(async () => {
    const parsed = validateConfig(await testDetectorConfig());
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    detector = new Detector(parsed.config);
    await detector.start();
  });

  afterAll(() => detector.stop());

  function failedLogin(address: string, timeUnixNano?: string): string {
    const attr = (key: string, value: string) => ({ key, value: { stringValue: value } });
    return JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  eventName: EVENT.AUTH_LOGIN,
                  ...(timeUnixNano === undefined ? {} : { timeUnixNano }),
                  attributes: [
                    attr(ATTR.CLIENT_ADDRESS, address),
                    attr(ATTR.AUTH_OUTCOME, AUTH_OUTCOME.FAILURE),
                    attr(ATTR.AUTH_FAILURE_REASON, AUTH_FAILURE_REASON.INVALID_CREDENTIALS),
                    attr(ATTR.USER_HASH, "5f4dcc3b5aa765d61d8327deb882cf99"),
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  }

  async function postTwelveTimes(body: string): Promise<void> {
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${detector.addresses.http}/v1/logs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(res.status).toBe(200);
    }
  }

  async function bruteForce(address: string): Promise<{ value: number; count: number }[]> {
    const res = await fetch(`${detector.addresses.api}/api/alerts?rule=brute_force`);
    const page = (await res.json()) as {
      alerts: { group: Record<string, string>; value: number; count: number }[];
    };
    return page.alerts.filter((a) => a.group[ATTR.CLIENT_ADDRESS] === address);
  }

  it("counts records without timestamps each time: they are new events, dated at arrival", async () => {
    await postTwelveTimes(failedLogin("198.51.100.7"));
    const alerts = await bruteForce("198.51.100.7");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.value).toBeGreaterThanOrEqual(10);
  });

  it("takes timestamped records sent again for the sender's retry: counted once", async () => {
    await postTwelveTimes(failedLogin("198.51.100.8", `${BigInt(Date.now()) * 1_000_000n}`));
    expect(await bruteForce("198.51.100.8")).toEqual([]);
  });
});
