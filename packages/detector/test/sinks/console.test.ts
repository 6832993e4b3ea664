import { describe, expect, it } from "vitest";
import { alertFromFiring, applyPatch } from "../../src/alerts/build.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { ConsoleSink, formatChange } from "../../src/sinks/console.ts";
import { firing } from "../alerts/fixtures.ts";

const ESC = "\u001b";
const ALERT = alertFromFiring(firing(), "alt_01JD3Q0000000000000000000A", Date.parse("2026-11-21T10:03:20Z"));

function stream(isTTY: boolean): { isTTY: boolean; text: string; write: (t: string) => void } {
  const s = { isTTY, text: "", write: (t: string) => void (s.text += t) };
  return s;
}

describe("console sink", () => {
  it("writes a readable multi-line summary without colours when stdout is not a terminal", async () => {
    const out = stream(false);
    const sink = new ConsoleSink({ stream: out, apiBaseUrl: "https://secmon.example.com/" });
    expect(
      await sink.send({ id: "dlv_1", sink: "console", type: "alert.created", alert: ALERT, enqueuedAt: 0 }),
    ).toEqual({
      ok: true,
    });
    expect(out.text).not.toContain(ESC);
    expect(out.text).toBe(
      [
        "[HIGH] brute_force Brute-force sign-in attempts from 203.0.113.7 (new alert, alt_01JD3Q0000000000000000000A)",
        "  group     client.address=203.0.113.7",
        "  value     10 (threshold 10, window 300s)",
        "  seen      2026-11-21T10:00:40.000Z → 2026-11-21T10:01:40.000Z (1 firing)",
        "  services  checkout",
        "  status    new",
        "  action    Block or challenge the source address",
        "  response  block_ip 203.0.113.7 until 2026-11-21T11:01:40.000Z",
        "  link      https://secmon.example.com/api/alerts/alt_01JD3Q0000000000000000000A",
        "",
      ].join("\n"),
    );
  });

  it("colours on a terminal (auto) or when asked, never when told not to", async () => {
    const tty = stream(true);
    await new ConsoleSink({ stream: tty }).send({
      id: "d",
      sink: "c",
      type: "alert.created",
      alert: ALERT,
      enqueuedAt: 0,
    });
    expect(tty.text).toContain(`${ESC}[31m[HIGH]`);
    const never = stream(true);
    await new ConsoleSink({ stream: never, color: "never" }).send({
      id: "d",
      sink: "c",
      type: "alert.created",
      alert: ALERT,
      enqueuedAt: 0,
    });
    expect(never.text).not.toContain(ESC);
    expect(formatChange({ type: "alert.created", alert: ALERT }, { color: true })).toContain(ESC);
  });

  it("shows status changes with assignee and resolution", () => {
    const closed = applyPatch(
      ALERT,
      { status: "false_positive", assignee: "ana", resolution: { note: "office NAT" } },
      "ana",
      Date.parse("2026-11-21T11:00:00Z"),
    );
    const text = formatChange({ type: "alert.status_changed", alert: closed });
    expect(text).toMatch(/\(alert false positive, alt_/);
    expect(text).toMatch(/status +false_positive, assigned to ana/);
    expect(text).toMatch(/resolution +ana: office NAT/);
  });

  it("a failing stream is a final failure, not a crash", async () => {
    const sink = new ConsoleSink({
      stream: {
        write: () => {
          throw new Error("EPIPE");
        },
      },
    });
    expect(
      await sink.send({ id: "d", sink: "c", type: "alert.created", alert: ALERT, enqueuedAt: 0 }),
    ).toMatchObject({
      ok: false,
      retryable: false,
    });
  });

  it("is the default sink, delivering created and status changes only by default", async () => {
    const config = sinksSectionSchema.parse(undefined);
    expect(config).toEqual([
      expect.objectContaining({
        type: "console",
        name: "console",
        events: ["alert.created", "alert.status_changed"],
      }),
    ]);
    const out = stream(false);
    const dispatcher = createSinkDispatcher(config, { stdout: out });
    dispatcher.dispatch([
      { type: "alert.created", alert: ALERT },
      { type: "alert.updated", alert: ALERT },
    ]);
    await dispatcher.whenIdle();
    expect(out.text.match(/^\[HIGH\]/gm)).toHaveLength(1);
    await dispatcher.stop();
  });
});

describe("sinks config section", () => {
  it("rejects unknown types, unknown keys, bad values and duplicate names, naming the path", () => {
    const bad = (v: unknown): string => {
      const r = sinksSectionSchema.safeParse(v);
      expect(r.success).toBe(false);
      return JSON.stringify(r.error?.issues);
    };
    expect(bad([{ type: "slack" }])).toMatch(/type/);
    expect(bad([{ type: "console", colour: "always" }])).toMatch(/colour/);
    expect(bad([{ type: "webhook", name: "a", url: "ftp://x", secret: { env: "S" } }])).toMatch(/url/);
    expect(bad([{ type: "webhook", name: "a", url: "https://x", secret: "inline" }])).toMatch(/secret/);
    expect(
      bad([{ type: "webhook", name: "a", url: "https://x", secret: { env: "S" }, max_concurrency: 0 }]),
    ).toMatch(/max_concurrency/);
    expect(
      bad([
        { type: "console", name: "a" },
        { type: "webhook", name: "a", url: "https://x", secret: { env: "S" } },
      ]),
    ).toMatch(/duplicate sink name a/);
  });

  it("fills webhook defaults", () => {
    const [w] = sinksSectionSchema.parse([
      { type: "webhook", name: "soc", url: "https://soc.example.com/hook", secret: { env: "S" } },
    ]);
    expect(w).toMatchObject({
      min_severity: "low",
      rules: { include: [], exclude: [] },
      events: ["alert.created", "alert.updated", "alert.status_changed"],
      timeout_seconds: 10,
      max_retry_seconds: 3600,
      max_concurrency: 4,
      queue_capacity: 10_000,
      max_dead_letters: 1000,
    });
  });

  it("a missing webhook secret fails at build time, naming the variable", () => {
    const config = sinksSectionSchema.parse([
      { type: "webhook", name: "soc", url: "https://x.example", secret: { env: "NOPE_SECRET" } },
    ]);
    expect(() => createSinkDispatcher(config, { env: {} })).toThrow(/NOPE_SECRET/);
  });
});
