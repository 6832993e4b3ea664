/**
 * The global LoggerProvider, found however and whenever it gets registered, including by another
 * copy of the logs API than the one this package imports (npm installs a second copy when the
 * application's `@opentelemetry/api-logs` and the SDK's differ by a patch version).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { logs as stableLogs } from "@opentelemetry/api";
import { logs as bridgeLogs } from "@opentelemetry/api-logs";
import type { LoggerProvider as ApiLoggerProvider } from "@opentelemetry/api-logs";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { ATTR } from "@secmon/semconv";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createSecurityEvents } from "../src/events.ts";
import { TEST_SECRET } from "./helpers/sdk.ts";

/** What both logs APIs (`@opentelemetry/api` >= 1.10 and `@opentelemetry/api-logs`) offer. */
interface LogsApi {
  setGlobalLoggerProvider(provider: ApiLoggerProvider): unknown;
  getLoggerProvider(): ApiLoggerProvider;
  disable(): void;
}

const require = createRequire(import.meta.url);

/** The directory of an installed package: the nearest package.json named `name` above its entry point. */
function packageRoot(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown }).name === name) {
        return dir;
      }
    } catch {
      // no package.json here: go up
    }
  }
  throw new Error(`no package root for ${name}`);
}

let installs: string | undefined;

/**
 * A second, separate install of a package, as npm nests one under a dependency whose range the
 * top-level copy does not satisfy: the same files in another node_modules, loaded as another
 * module instance. It has its own `LogsAPI` singleton and ProxyLoggerProvider and shares only what
 * the package keeps on `globalThis` (api-logs: a getter under `Symbol.for("io.opentelemetry.js.api.logs")`;
 * api: the `logs` entry of the registry under `Symbol.for("opentelemetry.js.api.1")`).
 */
function secondCopy(name: string): LogsApi {
  installs ??= mkdtempSync(join(tmpdir(), "secmon-logs-copy-"));
  const target = join(installs, "node_modules", name);
  cpSync(packageRoot(name), target, {
    recursive: true,
    dereference: true,
    filter: (source) => !source.includes(`${name}/node_modules`),
  });
  const copy = createRequire(join(installs, "anchor.cjs"))(name) as { logs: LogsApi };
  expect(copy.logs).not.toBe(name === "@opentelemetry/api" ? stableLogs : bridgeLogs);
  return copy.logs;
}

function memoryProvider() {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const userIds = () => exporter.getFinishedLogRecords().map((record) => record.attributes[ATTR.USER_ID]);
  return { provider, userIds };
}

const newEvents = () => createSecurityEvents({ hashSecret: TEST_SECRET, environment: "production" });

afterEach(() => {
  stableLogs.disable();
  bridgeLogs.disable();
  vi.restoreAllMocks();
});

afterAll(() => {
  if (installs !== undefined) rmSync(installs, { recursive: true, force: true });
});

describe("a provider registered through another copy of the logs API", () => {
  const copies: Record<string, LogsApi> = {};
  beforeAll(() => {
    copies["@opentelemetry/api-logs"] = secondCopy("@opentelemetry/api-logs");
    copies["@opentelemetry/api"] = secondCopy("@opentelemetry/api");
  });
  afterEach(() => {
    for (const copy of Object.values(copies)) copy.disable();
  });

  for (const name of ["@opentelemetry/api-logs", "@opentelemetry/api"]) {
    it(`${name}: events created before the registration are exported after it`, () => {
      const other = copies[name]!;
      const events = newEvents();
      events.logout({ userId: "before" });
      const { provider, userIds } = memoryProvider();
      other.setGlobalLoggerProvider(provider);
      // the copy this package imported sees the provider only through the shared global
      const ours = name === "@opentelemetry/api" ? stableLogs : bridgeLogs;
      expect(ours.getLoggerProvider()).toBe(provider);
      events.logout({ userId: "after" });
      events.logout({ userId: "later" });
      expect(userIds()).toEqual(["after", "later"]);
    });
  }

  it("events created after the registration are exported too", () => {
    const { provider, userIds } = memoryProvider();
    copies["@opentelemetry/api-logs"]!.setGlobalLoggerProvider(provider);
    newEvents().logout({ userId: "after" });
    expect(userIds()).toEqual(["after"]);
  });
});

describe("a provider registered through the copy this package imports, after the events were created", () => {
  it("@opentelemetry/api-logs", () => {
    const events = newEvents();
    events.logout({ userId: "before" });
    const { provider, userIds } = memoryProvider();
    bridgeLogs.setGlobalLoggerProvider(provider);
    events.logout({ userId: "after" });
    expect(userIds()).toEqual(["after"]);
  });

  it("NodeSDK started after createSecurityEvents (the ESM module-level case)", async () => {
    const events = newEvents();
    const exporter = new InMemoryLogRecordExporter();
    const sdk = new NodeSDK({
      serviceName: "late-start",
      resourceDetectors: [], // no asynchronous resource attributes: the processor exports at once
      logRecordProcessors: [new SimpleLogRecordProcessor({ exporter })],
    });
    sdk.start();
    try {
      events.logout({ userId: "after-start" });
      const records = exporter.getFinishedLogRecords();
      expect(records.map((r) => r.attributes[ATTR.USER_ID])).toEqual(["after-start"]);
      expect(records[0]!.resource.attributes["service.name"]).toBe("late-start");
    } finally {
      await sdk.shutdown();
    }
  });
});

describe("a global provider that takes nothing", () => {
  const API_LOGS_GLOBAL = Symbol.for("io.opentelemetry.js.api.logs");
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[API_LOGS_GLOBAL];
  });

  it("does not capture the events: a provider registered after it gets them", () => {
    const events = newEvents();
    // an api-logs copy of another compatibility version registered: api-logs stores a getter that
    // answers a no-op provider to any other version, so ours gets a no-op, not a proxy
    const { provider: unreachable } = memoryProvider();
    const noop = { getLogger: () => ({ emit: () => undefined, enabled: () => false }) };
    (globalThis as Record<symbol, unknown>)[API_LOGS_GLOBAL] = (version: number) =>
      version === 2 ? unreachable : noop;
    expect(bridgeLogs.getLoggerProvider()).toBe(noop);
    events.logout({ userId: "to-nowhere" });
    const { provider, userIds } = memoryProvider();
    stableLogs.setGlobalLoggerProvider(provider);
    events.logout({ userId: "after" });
    expect(userIds()).toEqual(["after"]);
  });
});

describe("asking the global again", () => {
  it("stops once a provider is found: emits after that do not look it up", () => {
    const stableLookups = vi.spyOn(stableLogs, "getLoggerProvider");
    const bridgeLookups = vi.spyOn(bridgeLogs, "getLoggerProvider");
    const events = newEvents();
    events.logout({ userId: "unregistered" });
    const before = stableLookups.mock.calls.length + bridgeLookups.mock.calls.length;
    expect(before).toBeGreaterThan(0);
    const { provider, userIds } = memoryProvider();
    stableLogs.setGlobalLoggerProvider(provider);
    events.logout({ userId: "one" });
    const bound = stableLookups.mock.calls.length + bridgeLookups.mock.calls.length;
    for (let i = 0; i < 5; i++) events.logout({ userId: "more" });
    expect(stableLookups.mock.calls.length + bridgeLookups.mock.calls.length).toBe(bound);
    expect(userIds()).toHaveLength(6);
  });

  it("takes no logger from a provider-less proxy per event (the proxy hands out a new one per call)", () => {
    const events = newEvents();
    const proxy = bridgeLogs.getLoggerProvider();
    const getLogger = vi.spyOn(proxy, "getLogger");
    for (let i = 0; i < 5; i++) events.logout({ userId: "unregistered" });
    expect(getLogger.mock.calls.length).toBeLessThanOrEqual(1);
  });
});
