import { describe, expect, it } from "vitest";
import { alertFromFiring, mergeFiring } from "../../src/alerts/build.ts";
import { T0, firing, sample } from "./fixtures.ts";

const times = (events: readonly { time: string }[]) => events.map((e) => Date.parse(e.time) - T0);

describe("alert sample events", () => {
  it("keeps the 10 most recent distinct samples, oldest first, across absorbed firings", () => {
    let alert = alertFromFiring(firing({ sampleEvents: [1, 2, 3].map((t) => sample(T0 + t)) }), "alt_1", T0);
    // an exact duplicate (other object, same content) is kept once; same time but other attributes is not a duplicate
    alert = mergeFiring(
      alert,
      firing({ sampleEvents: [sample(T0 + 3), sample(T0 + 3, { "user.hash": "b" }), sample(T0 + 4)] }),
      T0 + 10,
    );
    expect(times(alert.sample_events)).toEqual([1, 2, 3, 3, 4]);
    alert = mergeFiring(
      alert,
      firing({ sampleEvents: [5, 9, 8, 7, 6, 10].map((t) => sample(T0 + t)) }),
      T0 + 20,
    );
    expect(times(alert.sample_events)).toEqual([2, 3, 3, 4, 5, 6, 7, 8, 9, 10]);
    // older samples than all kept ones do not displace them
    alert = mergeFiring(alert, firing({ sampleEvents: [sample(T0)] }), T0 + 30);
    expect(times(alert.sample_events)).toEqual([2, 3, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
