import type { AlertsConfig } from "../alerts/config.ts";
import { MemoryAlertStore } from "../alerts/memory-store.ts";
import { RedisAlertStore } from "../alerts/redis-store.ts";
import type { AlertStore } from "../alerts/store.ts";
import type { SecretRef } from "../config/secret.ts";
import type { Metrics } from "../metrics/catalog.ts";
import type { ReportConfig } from "../report/config.ts";
import { RedisReportStore } from "../report/redis-store.ts";
import type { ReportStore } from "../report/store.ts";
import type { RulesConfig } from "../rules/config.ts";
import type { StateConfig } from "./config.ts";
import { MemoryWindowStore } from "./memory/store.ts";
import { RedisConnection } from "./redis/connection.ts";
import { RedisWindowStore } from "./redis/window-store.ts";
import type { WindowStore } from "./types.ts";

/** A long-lived part with the lifecycle contract. */
export interface StateComponent {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StateHealth {
  readonly healthy: boolean;
  readonly detail?: string;
}

/** The stores of one detector, from the `state` section. */
export interface StateStores {
  readonly backend: StateConfig["backend"];
  readonly windows: WindowStore;
  readonly alerts: AlertStore;
  /** A shared report store; undefined: the report section builds its own in memory. */
  readonly report: ReportStore | undefined;
  /**
   * Parts to start before anything uses the stores and to stop after (the alert and report
   * stores on Redis: each holds the shared connection while started). The window store is not
   * among them: it is a component of its own.
   */
  readonly components: readonly StateComponent[];
  /** The shared Redis connection (backend redis). */
  readonly connection: RedisConnection | undefined;
  /** Readiness checks by name: `redis` while the backend is Redis. */
  health(): Record<string, StateHealth>;
}

export interface StateSections {
  readonly state: StateConfig;
  readonly rules: Pick<RulesConfig, "max_groups_per_rule">;
  readonly alerts: Pick<AlertsConfig, "retention_seconds" | "max_alerts">;
  readonly report: Pick<ReportConfig, "top_k_capacity">;
}

export interface StateStoreOptions {
  readonly metrics?: Pick<Metrics, "stateEvictions" | "stateGroups" | "storeErrors">;
  readonly resolveSecret?: (ref: SecretRef) => string;
  /** Detector time (ms). */
  readonly clock?: () => number;
  /** Told about Redis connection errors and recoveries (the detector's log). */
  readonly onRedisEvent?: (event: "error" | "ready" | "reconnecting" | "end", err?: Error) => void;
}

/** Builds (does not start) the window, alert and report stores of the `state` backend. */
export function createStateStores(config: StateSections, options: StateStoreOptions = {}): StateStores {
  if (config.state.backend === "memory") {
    return {
      backend: "memory",
      windows: new MemoryWindowStore({
        maxGroupsPerRule: config.rules.max_groups_per_rule,
        ...(options.metrics ? { metrics: options.metrics } : {}),
      }),
      alerts: MemoryAlertStore.fromConfig(config.alerts),
      report: undefined,
      components: [],
      connection: undefined,
      health: () => ({}),
    };
  }
  const connection = new RedisConnection(config.state.redis, {
    ...(options.resolveSecret ? { resolveSecret: options.resolveSecret } : {}),
    ...(options.onRedisEvent ? { onEvent: options.onRedisEvent } : {}),
  });
  const alerts = RedisAlertStore.fromConfig(connection, config.alerts);
  const report = new RedisReportStore({
    connection,
    topKCapacity: config.report.top_k_capacity,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    backend: "redis",
    windows: new RedisWindowStore({
      connection,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    }),
    alerts,
    report,
    components: [
      { name: "alert store", start: () => alerts.start(), stop: () => alerts.stop() },
      { name: "report store", start: () => report.start(), stop: () => report.stop() },
    ],
    connection,
    health: () => ({ redis: connection.health() }),
  };
}
