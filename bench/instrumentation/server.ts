/**
 * A hello-world Express app for the request-rate benchmark, run as a child process:
 * `node --conditions=@secmon/source server.ts plain|instrumented|sdk-floor`. Prints `{"port":N}`
 * when ready. The instrumented variant adds the middleware first, emitting through the real SDK
 * (LoggerProvider → BatchLogRecordProcessor → an exporter that does nothing). The sdk-floor variant
 * is the least any middleware that emits one such record per request can do: a listener on the
 * response's close, two clock readings and the active context, and a record of the same attributes
 * with fixed values, handed to the same SDK the way the instrumentation hands it over.
 */
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { context } from "@opentelemetry/api";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import {
  createExpressMiddleware,
  createSecurityEvents,
  INSTRUMENTATION_SCOPE,
} from "@secmon/instrumentation";
import express from "express";

const variant = process.argv[2];
if (variant !== "plain" && variant !== "instrumented" && variant !== "sdk-floor") {
  throw new Error("usage: server.ts plain|instrumented|sdk-floor");
}

const app = express();
let provider: LoggerProvider | undefined;
let exported = 0;
if (variant !== "plain") {
  const exporter: LogRecordExporter = {
    export: (records, done) => {
      exported += records.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
  provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter })] });
  if (variant === "instrumented") {
    const events = createSecurityEvents({
      hashSecret: "bench-secret-0123456789abcdef",
      environment: "production",
      loggerProvider: provider,
    });
    app.use(createExpressMiddleware({ events }));
  } else {
    const logger = provider.getLogger(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
    app.use((_req, res, next) => {
      const start = performance.now();
      res.on("close", () => {
        // the keys and value types of the middleware's event in this benchmark (as in hot-path.ts)
        const attributes: Record<string, string | number> = {};
        attributes["client.address"] = "127.0.0.1";
        attributes["http.request.method"] = "GET";
        attributes["http.route"] = "/hello/:name";
        attributes["url.path"] = "/hello/world";
        attributes["http.response.status_code"] = 200;
        attributes["http.server.request.duration"] = (performance.now() - start) / 1000;
        attributes["http.response.body.size"] = 11;
        for (const _key in attributes) break; // the enum cache, as the instrumentation fills it
        const ms = Date.now();
        const seconds = Math.trunc(ms / 1000);
        const now: [number, number] = [seconds, Math.round((ms - seconds * 1000) * 1e6)];
        logger.emit({
          eventName: "api.request",
          severityNumber: 9,
          severityText: "INFO",
          body: "GET /hello/:name answered 200",
          attributes,
          timestamp: [now[0], now[1]],
          observedTimestamp: now,
          context: context.active(),
        });
      });
      next();
    });
  }
}
app.get("/hello/:name", (req, res) => {
  res.send(`hello ${req.params.name}`);
});

const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
let served = 0;
server.on("request", () => {
  served++;
});
process.on("message", (message) => {
  if (message === "stats") {
    const cpu = process.cpuUsage();
    process.send?.({ cpuUs: cpu.user + cpu.system, served });
    return;
  }
  if (message !== "stop") return;
  void (async () => {
    await provider?.forceFlush();
    process.send?.({ exported });
    server.close();
    server.closeAllConnections();
    await provider?.shutdown();
    process.exit(0);
  })();
});
