import { readFileSync } from "node:fs";
import type { AlertStore } from "../alerts/store.ts";
import { resolveSecret } from "../config/secret.ts";
import { SecmonError } from "../errors.ts";
import type { Outbox } from "../outbox/types.ts";
import { AlertmanagerResender, AlertmanagerSink, type Every } from "./alertmanager.ts";
import type { SinkConfig, SinksConfig } from "./config.ts";
import { ConsoleSink, type ConsoleStream } from "./console.ts";
import { SinkDispatcher, type Companion, type SinkMetrics, type Sleep } from "./dispatcher.ts";
import { EmailSink } from "./email.ts";
import { OtlpSink, type RuleInfoLookup } from "./otlp.ts";
import { PagerDutySink } from "./pagerduty.ts";
import { NO_RETRY, type Sink, type SinkFilter, type SinkRoute } from "./sink.ts";
import { SlackSink } from "./slack.ts";
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
  /** Open alerts for the Alertmanager sinks' periodic re-send; without it there is none. */
  readonly alertStore?: AlertStore;
  /** Timer of the Alertmanager re-send (tests drive it by hand). */
  readonly every?: Every;
  /** Rule facts for the OTLP sink's security_rule.* attributes (ruleInfoFromRules). */
  readonly ruleInfo?: RuleInfoLookup;
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

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new SecmonError("CONFIG_INVALID", `sinks: cannot read ca_file ${file}`, { cause: err });
  }
}

/** A sink of the config, with its secrets resolved (CONFIG_SECRET_MISSING names the variable or file). */
function buildSink(c: SinkConfig, o: BuildSinksOptions): Sink {
  const secret = (ref: Parameters<typeof resolveSecret>[0]) => resolveSecret(ref, o.env);
  const common = {
    name: c.name,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.apiBaseUrl ? { apiBaseUrl: o.apiBaseUrl } : {}),
  };
  switch (c.type) {
    case "console":
      return new ConsoleSink({
        name: c.name,
        color: c.color,
        ...(o.stdout ? { stream: o.stdout } : {}),
        ...(o.apiBaseUrl ? { apiBaseUrl: o.apiBaseUrl } : {}),
      });
    case "webhook":
      return new WebhookSink({
        name: c.name,
        url: c.url,
        secret: secret(c.secret),
        timeoutMs: c.timeout_seconds * 1000,
        ...(o.clock ? { clock: o.clock } : {}),
      });
    case "slack":
      return new SlackSink({
        ...common,
        webhookUrl: secret(c.webhook_url),
        timeoutMs: c.timeout_seconds * 1000,
      });
    case "pagerduty":
      return new PagerDutySink({
        ...common,
        routingKey: secret(c.routing_key),
        url: c.url,
        ...(c.source !== undefined ? { source: c.source } : {}),
        timeoutMs: c.timeout_seconds * 1000,
      });
    case "alertmanager": {
      const headers: Record<string, string> = {};
      if (c.bearer_token) headers["authorization"] = `Bearer ${secret(c.bearer_token)}`;
      if (c.basic_auth) {
        const pair = `${c.basic_auth.username}:${secret(c.basic_auth.password)}`;
        headers["authorization"] = `Basic ${Buffer.from(pair).toString("base64")}`;
      }
      return new AlertmanagerSink({ ...common, url: c.url, headers, timeoutMs: c.timeout_seconds * 1000 });
    }
    case "email":
      return new EmailSink({
        name: c.name,
        smtp: {
          host: c.smtp.host,
          port: c.smtp.port,
          security: c.smtp.security,
          ...(c.smtp.username ? { username: secret(c.smtp.username) } : {}),
          ...(c.smtp.password ? { password: secret(c.smtp.password) } : {}),
          ...(c.smtp.ca_file ? { ca: readCa(c.smtp.ca_file) } : {}),
        },
        from: c.from,
        to: c.to,
        subjectPrefix: c.subject_prefix,
        timeoutMs: c.timeout_seconds * 1000,
        ...(o.apiBaseUrl ? { apiBaseUrl: o.apiBaseUrl } : {}),
      });
    case "otlp":
      return new OtlpSink({
        ...common,
        endpoint: c.endpoint,
        protocol: c.protocol,
        headers: Object.fromEntries(Object.entries(c.headers).map(([k, ref]) => [k, secret(ref)])),
        timeoutMs: c.timeout_seconds * 1000,
        serviceName: c.service_name,
        ...(o.ruleInfo ? { ruleInfo: o.ruleInfo } : {}),
      });
  }
}

/** One route per configured sink. Resolves secrets (CONFIG_SECRET_MISSING names the variable or file). */
export function buildSinkRoutes(config: SinksConfig, o: BuildSinksOptions = {}): SinkRoute[] {
  return config.map((c): SinkRoute => {
    const sink = buildSink(c, o);
    if (c.type === "console") {
      return {
        sink,
        filter: filterOf(c),
        retry: NO_RETRY,
        maxConcurrency: 1,
        queueCapacity: c.queue_capacity,
      };
    }
    return {
      sink,
      filter: filterOf(c),
      retry: {
        maxRetryMs: c.max_retry_seconds * 1000,
        initialBackoffMs: c.initial_backoff_seconds * 1000,
        maxBackoffMs: c.max_backoff_seconds * 1000,
      },
      maxConcurrency: c.max_concurrency,
      queueCapacity: c.queue_capacity,
      timeoutMs: c.timeout_seconds * 1000,
      maxDeadLetters: c.max_dead_letters,
      ...(c.type === "email"
        ? { batch: { windowMs: c.batch_seconds * 1000, maxItems: c.max_alerts_per_message } }
        : {}),
    };
  });
}

/**
 * The dispatcher for the `sinks` section, with the Alertmanager sinks' periodic re-send of open
 * alerts as companions (when `alertStore` is given).
 */
export function createSinkDispatcher(config: SinksConfig, o: BuildSinksOptions = {}): SinkDispatcher {
  const routes = buildSinkRoutes(config, o);
  const companions: Companion[] = [];
  if (o.alertStore) {
    config.forEach((c, i) => {
      const route = routes[i] as SinkRoute;
      if (c.type !== "alertmanager" || !(route.sink instanceof AlertmanagerSink)) return;
      companions.push(
        new AlertmanagerResender({
          sink: route.sink,
          filter: route.filter,
          store: o.alertStore as AlertStore,
          intervalMs: c.resend_interval_seconds * 1000,
          ...(o.every ? { every: o.every } : {}),
          onFailure: () => o.metrics?.sinkDeliveries.add(1, { sink: c.name, outcome: "resend_failed" }),
        }),
      );
    });
  }
  return new SinkDispatcher({
    routes,
    companions,
    ...(o.outbox ? { outbox: o.outbox } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    ...(o.random ? { random: o.random } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
  });
}
