import type { IMetricReader } from "@opentelemetry/sdk-metrics";
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { ApiServer, type ComponentHealth, type Readiness } from "./api/server.ts";
import { apiBaseUrl } from "./api/config.ts";
import { AlertManager } from "./alerts/manager.ts";
import type { AlertChange } from "./alerts/types.ts";
import { AuthOutcomeCounter } from "./auth-outcomes.ts";
import type { Config } from "./config/schema.ts";
import { resolveSecret } from "./config/secret.ts";
import { Engine } from "./engine/engine.ts";
import { primeMetrics } from "./metrics/prime.ts";
import { Pipeline } from "./pipeline.ts";
import { OtlpGrpcReceiver } from "./receiver/otlp-grpc.ts";
import { OtlpHttpReceiver } from "./receiver/otlp-http.ts";
import { createReportComponents } from "./report/build.ts";
import { addressGrouper } from "./rules/attributes.ts";
import { loadRules } from "./rules/compile.ts";
import type { CompiledRule } from "./engine/types.ts";
import { createOutbox } from "./outbox/build.ts";
import type { Outbox } from "./outbox/types.ts";
import { createSinkDispatcher } from "./sinks/build.ts";
import { ruleInfoFromRules } from "./sinks/otlp.ts";
import type { SinkDispatcher } from "./sinks/dispatcher.ts";
import { createStateStores, type StateStores } from "./state/factory.ts";
import type { WindowStore } from "./state/types.ts";
import { Telemetry } from "./telemetry.ts";

export interface DetectorOptions {
  /** Where `{ env }` secrets are read. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Detector clock in ms. Default Date.now. */
  readonly clock?: () => number;
  readonly logger?: Logger;
  /** More metric readers (tests, the demo's summary). */
  readonly metricReaders?: IMetricReader[];
  /** Called with every alert change after it is recorded (besides the configured sinks). */
  readonly onChanges?: (changes: readonly AlertChange[]) => void;
}

/** Where a started detector listens (ports are the bound ones, useful with port 0). */
export interface DetectorAddresses {
  readonly grpc?: string;
  readonly http?: string;
  readonly api?: string;
  readonly metrics?: string;
}

interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The logger of the detector's own log (stderr), from the `log` section. */
export function createLogger(config: Config["log"]): Logger {
  const options = { level: config.level, base: { service: "secmon-detector" } };
  if (config.format === "json") return pino(options, pino.destination({ fd: 2, sync: false }));
  return pino(options, pretty({ destination: 2, sync: true, ignore: "pid,hostname,service" }));
}

/**
 * The detector, wired from one validated config: receivers → pipeline (rules on a window store)
 * → alerts → sinks, with the HTTP API and the detector's own metrics beside them. Components
 * start in dependency order and stop in reverse; `stop()` drains what is in flight.
 */
export class Detector {
  readonly config: Config;
  readonly telemetry: Telemetry;
  readonly rules: readonly CompiledRule[];
  readonly windows: WindowStore;
  readonly alerts: AlertManager;
  readonly outbox: Outbox;
  readonly dispatcher: SinkDispatcher;
  readonly pipeline: Pipeline;
  readonly api: ApiServer | undefined;
  readonly grpc: OtlpGrpcReceiver | undefined;
  readonly http: OtlpHttpReceiver | undefined;
  readonly logger: Logger;
  readonly #state: StateStores;
  readonly #components: Component[];
  #started: Component[] = [];
  #stopping: Promise<void> | undefined;

  constructor(config: Config, options: DetectorOptions = {}) {
    const env = options.env ?? process.env;
    const clock = options.clock ?? Date.now;
    this.config = config;
    this.logger = options.logger ?? createLogger(config.log);
    this.telemetry = new Telemetry(config.metrics, options.metricReaders);
    const metrics = this.telemetry.metrics;

    this.rules = loadRules(config.rules);
    primeMetrics(
      metrics,
      this.rules.map((r) => r.id),
    );
    // windows, alerts and report in memory or in Redis (`state` section)
    this.#state = createStateStores(config, {
      metrics,
      clock,
      resolveSecret: (ref) => resolveSecret(ref, env),
      onRedisEvent: (event, err) => {
        if (event === "error") this.logger.warn({ err }, "redis connection error");
        else if (event === "ready") this.logger.info("redis connection ready");
      },
    });
    this.windows = this.#state.windows;
    const engine = new Engine({
      rules: this.rules,
      store: this.windows,
      metrics,
      maxClockSkewSeconds: config.rules.max_clock_skew_seconds,
    });

    const baseUrl = apiBaseUrl(config.api);
    // the configured outbox, else the shared Redis with Redis state, else SQLite
    this.outbox = createOutbox(config.outbox, this.#state);
    this.dispatcher = createSinkDispatcher(config.sinks, {
      env,
      metrics,
      clock,
      outbox: this.outbox,
      alertStore: this.#state.alerts,
      ruleInfo: ruleInfoFromRules(this.rules),
      ...(baseUrl ? { apiBaseUrl: baseUrl } : {}),
      onError: (err) => this.logger.error({ err }, "alert delivery store failed"),
    });
    const prefix = config.rules.ipv6_group_prefix;
    const { recentEvents, reporter } = createReportComponents(config.report, {
      clock,
      addressGroup: addressGrouper(prefix),
      onError: (err) => this.logger.warn({ err }, "report store failed"),
      ...(this.#state.report ? { store: this.#state.report } : {}),
    });
    this.alerts = new AlertManager({
      store: this.#state.alerts,
      clock,
      metrics,
      purgeIntervalSeconds: config.alerts.purge_interval_seconds,
      onChanges: (changes) => {
        // alerted groups keep their events from now on (this batch is observed after its alerts)
        for (const c of changes) if (c.firing !== undefined) recentEvents.watch(c.alert.group);
        options.onChanges?.(changes);
      },
      deliver: (changes) => this.dispatcher.dispatch(changes),
    });

    this.pipeline = new Pipeline({
      evaluator: engine,
      alerting: this.alerts,
      observers: [recentEvents, reporter, new AuthOutcomeCounter(metrics)],
      metrics,
      maxInFlightEvents: config.ingest.max_in_flight_events,
      blocked: () => this.dispatcher.blocked(),
    });

    const secret = (ref: Parameters<typeof resolveSecret>[0]) => resolveSecret(ref, env);
    const receiverOptions = { ingestor: this.pipeline, metrics, now: clock, resolveSecret: secret };
    const otlp = config.receivers.otlp;
    this.grpc = otlp.grpc.enabled
      ? new OtlpGrpcReceiver({ ...receiverOptions, config: otlp.grpc })
      : undefined;
    this.http = otlp.http.enabled
      ? new OtlpHttpReceiver({ ...receiverOptions, config: otlp.http })
      : undefined;
    this.api = config.api.enabled
      ? new ApiServer({
          config: config.api,
          alerts: this.alerts,
          recentEvents,
          reporter,
          dispatcher: this.dispatcher,
          readiness: () => this.readiness(),
          env,
          clock,
        })
      : undefined;

    const named = (name: string, c: { start(): Promise<void>; stop(): Promise<void> } | undefined) =>
      c ? [{ name, start: () => c.start(), stop: () => c.stop() }] : [];
    this.#components = [
      ...named("telemetry", this.telemetry),
      ...this.#state.components,
      ...named("window store", this.windows),
      ...named("outbox", this.outbox),
      ...named("sinks", this.dispatcher),
      ...named("alerts", this.alerts),
      ...named("pipeline", this.pipeline),
      ...named("api", this.api),
      ...named("otlp/grpc receiver", this.grpc),
      ...named("otlp/http receiver", this.http),
    ];
  }

  /** Ready when every component started and the receivers listen. */
  async readiness(): Promise<Readiness> {
    const checks: Record<string, ComponentHealth> = {};
    for (const c of this.#components) {
      const up = this.#started.includes(c);
      checks[c.name] = up ? { healthy: true } : { healthy: false, detail: "not started" };
    }
    for (const [name, health] of Object.entries(this.#state.health())) checks[name] = health;
    const blocked = this.dispatcher.blocked();
    if (blocked !== undefined) checks["alert deliveries"] = { healthy: false, detail: blocked };
    if (this.#stopping) checks["detector"] = { healthy: false, detail: "shutting down" };
    return { ready: Object.values(checks).every((c) => c.healthy), checks };
  }

  get addresses(): DetectorAddresses {
    const host = (endpoint: string) => endpoint.replace(/:\d+$/, "");
    const otlp = this.config.receivers.otlp;
    const prom = this.config.metrics.prometheus;
    return {
      ...(this.grpc?.port !== undefined ? { grpc: `${host(otlp.grpc.endpoint)}:${this.grpc.port}` } : {}),
      ...(this.http?.port !== undefined
        ? { http: `${otlp.http.tls ? "https" : "http"}://${host(otlp.http.endpoint)}:${this.http.port}` }
        : {}),
      ...(this.api && this.#started.some((c) => c.name === "api") ? { api: this.api.url } : {}),
      ...(prom.enabled ? { metrics: `http://${prom.endpoint}/metrics` } : {}),
    };
  }

  /** Starts every component in order; on failure stops those already started and rethrows. */
  async start(): Promise<void> {
    for (const c of this.#components) {
      if (this.#started.includes(c)) continue;
      try {
        await c.start();
      } catch (err) {
        this.logger.error({ component: c.name, error: (err as Error).message }, "start failed");
        await this.stop();
        throw err;
      }
      this.#started.push(c);
    }
    this.logger.info(
      { ...this.addresses, rules: this.rules.filter((r) => r.enabled).length },
      "detector started",
    );
  }

  /** Stops in reverse order: receivers drain first, sinks flush last. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const c of [...this.#started].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          this.logger.error({ err, component: c.name }, "stop failed");
        }
      }
      this.#started = [];
      this.logger.info("detector stopped");
    })();
    return this.#stopping;
  }
}
