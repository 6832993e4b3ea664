import { resolveSecret } from "../config/secret.ts";
import type { Outbox } from "../outbox/types.ts";
import type { SinkConfig, SinksConfig } from "./config.ts";
import { ConsoleSink, type ConsoleStream } from "./console.ts";
import { SinkDispatcher, type SinkMetrics, type Sleep } from "./dispatcher.ts";
import { NO_RETRY, type SinkFilter, type SinkRoute } from "./sink.ts";
import { WebhookSink } from "./webhook.ts";

export interface BuildSinksOptions {
  /** Where secrets named `{ env }` are read (the wiring passes process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Base URL of the HTTP API for links in messages (api.public_url, else http://<api.endpoint>). */
  readonly apiBaseUrl?: string;
  readonly stdout?: ConsoleStream;
  readonly clock?: () => number;
  readonly sleep?: Sleep;
  readonly random?: () => number;
  readonly metrics?: SinkMetrics;
  /** Where deliveries and dead letters are kept (started before the dispatcher). Default: in memory. */
  readonly outbox?: Outbox;
  readonly drainMs?: number;
  readonly onError?: (err: unknown) => void;
}

function filterOf(c: SinkConfig): SinkFilter {
  return {
    minSeverity: c.min_severity,
    includeRules: c.rules.include,
    excludeRules: c.rules.exclude,
    events: c.events,
  };
}

/** One route per configured sink. Resolves secrets (CONFIG_SECRET_MISSING names the variable or file). */
export function buildSinkRoutes(config: SinksConfig, o: BuildSinksOptions = {}): SinkRoute[] {
  return config.map((c): SinkRoute => {
    switch (c.type) {
      case "console":
        return {
          sink: new ConsoleSink({
            name: c.name,
            color: c.color,
            ...(o.stdout ? { stream: o.stdout } : {}),
            ...(o.apiBaseUrl ? { apiBaseUrl: o.apiBaseUrl } : {}),
          }),
          filter: filterOf(c),
          retry: NO_RETRY,
          maxConcurrency: 1,
          queueCapacity: c.queue_capacity,
        };
      case "webhook":
        return {
          sink: new WebhookSink({
            name: c.name,
            url: c.url,
            secret: resolveSecret(c.secret, o.env),
            timeoutMs: c.timeout_seconds * 1000,
            ...(o.clock ? { clock: o.clock } : {}),
          }),
          filter: filterOf(c),
          retry: {
            maxRetryMs: c.max_retry_seconds * 1000,
            initialBackoffMs: c.initial_backoff_seconds * 1000,
            maxBackoffMs: c.max_backoff_seconds * 1000,
          },
          maxConcurrency: c.max_concurrency,
          queueCapacity: c.queue_capacity,
        };
    }
  });
}

/** The dispatcher for the `sinks` section. */
export function createSinkDispatcher(config: SinksConfig, o: BuildSinksOptions = {}): SinkDispatcher {
  const maxDeadLetters = new Map(
    config.map((c) => [c.name, c.type === "webhook" ? c.max_dead_letters : 1000] as const),
  );
  return new SinkDispatcher({
    routes: buildSinkRoutes(config, o),
    maxDeadLetters: (sink) => maxDeadLetters.get(sink) ?? 1000,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    ...(o.random ? { random: o.random } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.outbox ? { outbox: o.outbox } : {}),
    ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
  });
}
