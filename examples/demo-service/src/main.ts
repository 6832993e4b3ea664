/**
 * Starts the demo service: NodeSDK with an OTLP/gRPC logs exporter to OTEL_EXPORTER_OTLP_ENDPOINT
 * (default http://127.0.0.1:4317), listening on PORT (default 3000) and HOST (default 127.0.0.1).
 *
 *   pnpm --filter @secmon/demo-service start
 */
import { createDemoApp } from "./app.ts";
import { startTelemetry } from "./telemetry.ts";

// a demo: without any environment set, run as development (public development hash key, with a
// warning); set NODE_ENV=production and SECMON_HASH_SECRET to run it like a real service
process.env.NODE_ENV ??= "development";
if (process.env.SECMON_HASH_SECRET === undefined) {
  console.warn("SECMON_HASH_SECRET is not set: user.hash uses the public development key (not pseudonymous)");
}

const { sdk, security } = startTelemetry(process.env.OTEL_SERVICE_NAME ?? "demo-service");
const demo = await createDemoApp({ events: security });
const server = await demo.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");
console.log(`demo-service listening on ${server.url}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  await server.close();
  await sdk.shutdown(); // flushes the last security events
  process.exit(0);
}
process.once("SIGINT", () => void stop("SIGINT"));
process.once("SIGTERM", () => void stop("SIGTERM"));
