import * as otelApi from "@opentelemetry/api";
import { logs as bridgeLogs } from "@opentelemetry/api-logs";
import type { LoggerProvider } from "@opentelemetry/api-logs";
import type { EmitLogger, ProbeLogger } from "./internal-types.ts";

/** Instrumentation scope of every record this package emits. */
export const INSTRUMENTATION_SCOPE = { name: "@secmon/instrumentation", version: "0.1.0" } as const;

interface LogsApiLike {
  getLogger(name: string, version?: string): ProbeLogger;
}

/**
 * A Logger bound to whichever global LoggerProvider gets registered. Two registries exist:
 * `@opentelemetry/api` >= 1.10 carries the logs API itself (NodeSDK >= 0.300 registers there), and
 * `@opentelemetry/api-logs` keeps its own. Both hand out proxy loggers that start forwarding once
 * a provider is registered; this one asks each in turn whether a provider stands behind it and
 * binds to the first that answers, so the check costs nothing after the first real emit.
 */
function globalLogger(): EmitLogger {
  const stableLogs = (otelApi as unknown as { logs?: LogsApiLike }).logs;
  const candidates: ProbeLogger[] = [];
  if (stableLogs !== undefined) {
    candidates.push(stableLogs.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version));
  }
  candidates.push(
    bridgeLogs.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version) as unknown as ProbeLogger,
  );
  let bound: EmitLogger | undefined;
  return {
    emit(record) {
      if (bound === undefined) {
        bound = candidates.find((candidate) => candidate.enabled({ eventName: record.eventName }));
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
