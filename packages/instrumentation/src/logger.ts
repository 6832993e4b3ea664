import * as otelApi from "@opentelemetry/api";
import { logs as bridgeLogs } from "@opentelemetry/api-logs";
import type { LoggerProvider, LogRecord } from "@opentelemetry/api-logs";
import type { EmitLogger, ProbeLogger } from "./internal-types.ts";

/** Instrumentation scope of every record this package emits. */
export const INSTRUMENTATION_SCOPE = { name: "@secmon/instrumentation", version: "0.1.0" } as const;

interface ProviderLike {
  getLogger(name: string, version?: string): ProbeLogger;
}

interface LogsApiLike {
  getLoggerProvider(): ProviderLike;
}

/**
 * A Logger bound to whichever global LoggerProvider gets registered, whenever it is. Two registries
 * exist: `@opentelemetry/api` >= 1.10 carries the logs API itself (NodeSDK >= 0.300 registers
 * there), and `@opentelemetry/api-logs` keeps its own. While nothing is registered, an API answers
 * with a proxy provider of its own, which starts forwarding only when a provider is registered
 * through that same copy of the API; with two copies installed (npm nests the SDK's when its
 * version differs from the application's) ours would never forward. The global itself is shared by
 * every copy, so until a logger that takes the record is found, each emit asks both APIs for the
 * global provider again (a Logger is taken once per provider seen). Once bound, emits go straight
 * to the logger.
 */
function globalLogger(): EmitLogger {
  const apis: LogsApiLike[] = [];
  const stableLogs = (otelApi as unknown as { logs?: Partial<LogsApiLike> }).logs;
  if (typeof stableLogs?.getLoggerProvider === "function") apis.push(stableLogs as LogsApiLike);
  apis.push(bridgeLogs as unknown as LogsApiLike);
  // per API: the provider it answered last and a Logger from it (a provider-less proxy hands out a new one per call)
  const providers: (ProviderLike | undefined)[] = [];
  const loggers: (ProbeLogger | undefined)[] = [];

  /** A Logger that takes `record`: a registered provider's (a provider-less proxy's says no). */
  function find(record: LogRecord): EmitLogger | undefined {
    for (let i = 0; i < apis.length; i++) {
      const provider = (apis[i] as LogsApiLike).getLoggerProvider();
      if (providers[i] !== provider) {
        providers[i] = provider;
        loggers[i] = provider.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      }
      const logger = loggers[i] as ProbeLogger;
      if (logger.enabled(record)) return logger;
    }
    return undefined;
  }

  let bound: EmitLogger | undefined;
  return {
    emit(record) {
      if (bound === undefined) {
        bound = find(record);
        if (bound === undefined) return; // no provider registered yet: nothing to emit to
      }
      bound.emit(record);
    },
  };
}

/** The Logger the events emit through: from the given provider, else the global one. */
export function resolveLogger(provider: LoggerProvider | undefined): EmitLogger {
  if (provider !== undefined)
    return provider.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
  return globalLogger();
}
