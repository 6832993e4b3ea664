import { describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import { LogsExport, MAX_SERVICE_LABELS, outcomeOf } from "../../src/receiver/export.ts";
import { protobufRequest } from "./fixtures.ts";
import { RecordingIngestor, TestMetrics } from "./harness.ts";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { EVENT, RESOURCE_ATTR } from "@secmon/semconv";

describe("LogsExport", () => {
  it("keeps the service label bounded: past the cap, services are counted as other", async () => {
    const metrics = new TestMetrics();
    const ingestor = new RecordingIngestor();
    const exp = new LogsExport({ transport: "grpc", ingestor, metrics: metrics.metrics, now: () => 5 });
    const services = MAX_SERVICE_LABELS + 20;
    const records = Array.from({ length: services }, (_, i) => ({
      eventName: i % 2 === 0 ? EVENT.AUTH_LOGIN : "custom.thing",
      resource: resourceFromAttributes({ [RESOURCE_ATTR.SERVICE_NAME]: `svc-${i}` }),
    }));
    await exp.export(Buffer.from(protobufRequest(records)), "protobuf");
    const points = await metrics.points("secmon_events_received");
    const labels = new Set(Object.keys(points).map((k) => k.split(",")[1]));
    expect(labels.size).toBe(MAX_SERVICE_LABELS + 1);
    expect(await metrics.sum("secmon_events_received", { service: "other" })).toBe(20);
    expect(await metrics.sum("secmon_events_received", { event_name: "custom" })).toBe(services / 2);
    expect(await metrics.sum("secmon_events_received")).toBe(services);
    expect(ingestor.accepted[0]?.ctx).toMatchObject({ transport: "grpc", receivedAt: 5 });
    await metrics.stop();
  });

  it("maps errors to request outcomes", () => {
    expect(outcomeOf(new SecmonError("OTLP_TOO_LARGE"))).toBe("too_large");
    expect(outcomeOf(new SecmonError("AUTH_REQUIRED"))).toBe("unauthenticated");
    expect(outcomeOf(new SecmonError("OTLP_MALFORMED"))).toBe("invalid");
    expect(outcomeOf(new SecmonError("OTLP_UNSUPPORTED_MEDIA_TYPE"))).toBe("invalid");
    expect(outcomeOf(new SecmonError("STORE_UNAVAILABLE"))).toBe("unavailable");
    expect(outcomeOf(new SecmonError("SHUTTING_DOWN"))).toBe("unavailable");
    expect(outcomeOf(new SecmonError("INTERNAL"))).toBe("error");
  });
});
