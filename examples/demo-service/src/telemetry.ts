import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { BatchLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { createSecurityEvents } from "@secmon/instrumentation";

export function startTelemetry(serviceName: string) {
  const exporter = new OTLPLogExporter({
    url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://127.0.0.1:4317",
  });
  const sdk = new NodeSDK({ serviceName, logRecordProcessors: [new BatchLogRecordProcessor({ exporter })] });
  sdk.start();
  // HMAC key for user.hash / session.id: the option, else SECMON_HASH_SECRET (required in production)
  const security = createSecurityEvents({ hashSecret: process.env.SECMON_HASH_SECRET });
  return { sdk, security };
}
