import * as otelApi from "@opentelemetry/api";
import { logs as bridgeLogs } from "@opentelemetry/api-logs";
import type { LoggerProvider } from "@opentelemetry/api-logs";
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
 * True for the ProxyLoggerProvider a logs API answers with while the global it reads holds no
 * provider. Duck-typed: each copy of the API has its own class, and the method is in every version.
 */
function isProxyProvider(provider: ProviderLike): boolean {
  return typeof (provider as { _getDelegateLogger?: unknown })._getDelegateLogger === "function";
}

/**
 * A Logger bound to whichever global LoggerProvider gets registered, whenever it is. Two registries
 * exist: `@opentelemetry/api` >= 1.10 carries the logs API itself (NodeSDK >= 0.300 registers
 * there), and `@opentelemetry/api-logs` keeps its own. Each copy of either API hands out proxies of
 * its own that start forwarding only when a provider is registered through that same copy; with
 * two copies installed (npm nests the SDK's when its version differs from the application's) ours
 * would never forward. The global itself is shared by every copy, so until a provider is found
 * each emit asks both APIs for the global provider again; once one answers, the logger is bound
 * and emits go straight to it.
 */
function globalLogger(): EmitLogger {
  const apis: LogsApiLike[] = [];
  const stableLogs = (otelApi as unknown as { logs?: Partial<LogsApiLike> }).logs;
  if (typeof stableLogs?.getLoggerProvider === "function") apis.push(stableLogs as LogsApiLike);
  apis.push(bridgeLogs as unknown as LogsApiLike);
  // per API: the proxy provider last seen and a logger from it (a provider-less proxy hands out a new one per call)
  const proxies: (ProviderLike | undefined)[] = [];
  const proxyLoggers: (ProbeLogger | undefined)[] = [];

  function find(eventName: string | undefined): EmitLogger | undefined {
    for (let i = 0; i < apis.length; i++) {
      const provider = (apis[i] as LogsApiLike).getLoggerProvider();
      if (!isProxyProvider(provider)) {
        return provider.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      }
      // a proxy forwards once a provider was registered through its own copy of the API
      if (proxies[i] !== provider) {
        proxies[i] = provider;
        proxyLoggers[i] = provider.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      }
      const logger = proxyLoggers[i] as ProbeLogger;
      if (logger.enabled({ eventName })) return logger;
    }
    return undefined;
  }

  let bound: EmitLogger | undefined;
  return {
    emit(record) {
      if (bound === undefined) {
        bound = find(record.eventName);
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
