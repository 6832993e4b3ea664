/**
 * A hello-world Express app for the request-rate benchmark, run as a child process:
 * `node --conditions=@secmon/source server.ts plain|instrumented`. Prints `{"port":N}` when ready.
 * The instrumented variant adds the middleware first, emitting through the real SDK
 * (LoggerProvider → BatchLogRecordProcessor → an exporter that does nothing).
 */
import type { AddressInfo } from "node:net";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import { createExpressMiddleware, createSecurityEvents } from "@secmon/instrumentation";
import express from "express";

const variant = process.argv[2];
if (variant !== "plain" && variant !== "instrumented") throw new Error("usage: server.ts plain|instrumented");

const app = express();
let provider: LoggerProvider | undefined;
let exported = 0;
if (variant === "instrumented") {
  const exporter: LogRecordExporter = {
    export: (records, done) => {
      exported += records.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
  provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter })] });
  const events = createSecurityEvents({
    hashSecret: "bench-secret-0123456789abcdef",
    environment: "production",
    loggerProvider: provider,
  });
  app.use(createExpressMiddleware({ events }));
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
