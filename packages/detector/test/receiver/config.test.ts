import { describe, expect, it } from "vitest";
import { receiversSectionSchema } from "../../src/receiver/config.ts";

describe("receivers config section", () => {
  it("defaults to both OTLP receivers on loopback with a 4 MiB limit", () => {
    const config = receiversSectionSchema.parse({});
    expect(config.otlp.grpc).toEqual({
      enabled: true,
      endpoint: "127.0.0.1:4317",
      max_request_bytes: 4 * 1024 * 1024,
      http2_window_bytes: 16 * 1024 * 1024,
      max_concurrent_streams: 100,
      shutdown_grace_seconds: 10,
    });
    expect(config.otlp.http).toEqual({
      enabled: true,
      endpoint: "127.0.0.1:4318",
      max_request_bytes: 4 * 1024 * 1024,
      retry_after_seconds: 5,
      shutdown_grace_seconds: 10,
    });
  });

  it("accepts TLS, mTLS and bearer auth with secret references", () => {
    const config = receiversSectionSchema.parse({
      otlp: {
        grpc: {
          endpoint: "[::]:4317",
          tls: {
            cert_file: "/etc/secmon/tls.crt",
            key_file: "/etc/secmon/tls.key",
            client_ca_file: "/etc/ca.pem",
          },
          auth: { bearer_token: { env: "SECMON_OTLP_TOKEN" } },
        },
        http: { enabled: false, auth: { bearer_token: { file: "/run/secrets/otlp" } } },
      },
    });
    expect(config.otlp.grpc.tls?.client_ca_file).toBe("/etc/ca.pem");
    expect(config.otlp.grpc.auth?.bearer_token).toEqual({ env: "SECMON_OTLP_TOKEN" });
    expect(config.otlp.http.enabled).toBe(false);
  });

  it("rejects unknown keys with their path, and values out of bounds", () => {
    const unknown = receiversSectionSchema.safeParse({ otlp: { htttp: {} } });
    expect(unknown.success).toBe(false);
    expect(JSON.stringify(unknown.error?.issues)).toContain("htttp");
    const nested = receiversSectionSchema.safeParse({
      otlp: { grpc: { tls: { cert_file: "a", key_file: "b", ca: "c" } } },
    });
    expect(nested.error?.issues[0]?.path).toEqual(["otlp", "grpc", "tls"]);
    for (const grpc of [
      { max_request_bytes: 10 },
      { endpoint: "4317" },
      { http2_window_bytes: 1024 },
      { auth: { bearer_token: "inline-secret" } },
    ]) {
      expect(receiversSectionSchema.safeParse({ otlp: { grpc } }).success, JSON.stringify(grpc)).toBe(false);
    }
  });
});
