/**
 * OTLP/gRPC logs receiver: `opentelemetry.proto.collector.logs.v1.LogsService/Export` on
 * @grpc/grpc-js. The service is registered with a hand-written definition whose deserializer
 * passes the raw request bytes to our own decoder (no proto-loader message objects).
 */
import type {
  Http2SecureServer,
  Http2Server,
  ServerHttp2Session,
  ServerHttp2Stream,
  Settings,
} from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { SecmonError, asSecmonError } from "../errors.ts";
import { splitEndpoint } from "../net.ts";
import type { BearerAuth } from "./auth.ts";
import type { GrpcReceiverConfig } from "./config.ts";
import { encodeExportResponse, receiverCore, type LogsExport } from "./export.ts";
import type { ExportResult, ReceiverOptions } from "./export.ts";
import { loadTls } from "./tls.ts";

export const LOGS_EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The LogsService definition with raw-bytes passthrough for requests. */
export const LOGS_SERVICE_DEFINITION = {
  Export: {
    path: LOGS_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (result: ExportResult) => asBuffer(encodeExportResponse(result)),
    responseDeserialize: (bytes: Buffer) => bytes,
  },
} satisfies grpc.ServiceDefinition;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: Settings };
  createHttp2Server?: (
    this: grpc.Server,
    credentials: grpc.ServerCredentials,
  ) => Http2Server | Http2SecureServer;
}

export interface Http2Hooks {
  /** HTTP/2 flow-control window per stream and per connection, in bytes. */
  readonly windowBytes: number;
  /** Called with the grpc-status of every call when its stream closes. */
  readonly onStatus?: (code: number) => void;
}

/**
 * grpc-js (1.14) has no server option for HTTP/2 flow control: every stream and connection
 * gets the protocol's 64 KiB window, which stalls a sender of 250 KB export requests on window
 * updates. We raise the per-stream initial window through the server's HTTP/2 settings and the
 * connection window on each new session. grpc-js also answers some calls itself (message over
 * the size limit, also after decompression) without passing through interceptors, so statuses
 * are observed on the HTTP/2 stream. Both hooks are grpc-js internals; if they change, the
 * server still works, with default windows (returns false).
 */
export function hookHttp2(server: grpc.Server, hooks: Http2Hooks): boolean {
  const internals = server as unknown as GrpcServerInternals;
  const create = internals.createHttp2Server;
  const common = internals.commonServerOptions;
  if (typeof create !== "function" || common === undefined) return false;
  const windowBytes = hooks.windowBytes;
  common.settings = { ...common.settings, initialWindowSize: windowBytes };
  const onStatus = hooks.onStatus;
  internals.createHttp2Server = function (this: grpc.Server, credentials: grpc.ServerCredentials) {
    const h2 = create.call(this, credentials);
    h2.on("session", (session: ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(windowBytes);
      } catch {
        // The session closed before its window could be raised: nothing to do.
      }
    });
    if (onStatus !== undefined) {
      h2.on("stream", (stream: ServerHttp2Stream) => {
        stream.once("close", () => {
          const status = stream.sentTrailers?.["grpc-status"] ?? stream.sentHeaders["grpc-status"];
          if (status !== undefined) onStatus(Number(status));
        });
      });
    }
    return h2;
  };
  return true;
}

export class OtlpGrpcReceiver {
  readonly #config: GrpcReceiverConfig;
  readonly #export: LogsExport;
  readonly #auth: BearerAuth | undefined;
  #server: grpc.Server | undefined;
  #port: number | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ReceiverOptions<GrpcReceiverConfig>) {
    this.#config = options.config;
    const core = receiverCore("grpc", options);
    this.#export = core.export;
    this.#auth = core.auth;
  }

  /** The bound port once started (useful with port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Binds and serves; does nothing when the receiver is disabled in the configuration. */
  async start(): Promise<void> {
    if (this.#server !== undefined || !this.#config.enabled) return;
    const config = this.#config;
    const credentials = await this.#credentials();
    const server = new grpc.Server({
      "grpc.max_receive_message_length": config.max_request_bytes,
      "grpc.max_concurrent_streams": config.max_concurrent_streams,
      interceptors: [this.#interceptor],
    });
    hookHttp2(server, {
      windowBytes: config.http2_window_bytes,
      onStatus: (code) => {
        if (code === grpc.status.RESOURCE_EXHAUSTED) this.#export.countRequest("too_large");
      },
    });
    server.addService(LOGS_SERVICE_DEFINITION, { Export: this.#handleExport });
    const { host, port } = splitEndpoint(config.endpoint);
    const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (err, bound) => {
        if (err) {
          server.forceShutdown();
          reject(new SecmonError("CONFIG_INVALID", `cannot listen on ${config.endpoint}: ${err.message}`));
        } else resolve(bound);
      });
    });
    this.#server = server;
    this.#stopping = undefined;
  }

  /**
   * Stops accepting calls and waits for those in flight (at most shutdown_grace_seconds, then
   * closes the connections). Idempotent; safe before start.
   */
  stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return this.#stopping ?? Promise.resolve();
    this.#server = undefined;
    this.#stopping = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.#config.shutdown_grace_seconds * 1000);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.#stopping;
  }

  async #credentials(): Promise<grpc.ServerCredentials> {
    const tls = this.#config.tls;
    if (tls === undefined) return grpc.ServerCredentials.createInsecure();
    const material = await loadTls(tls);
    return grpc.ServerCredentials.createSsl(
      material.ca ?? null,
      [{ private_key: material.key, cert_chain: material.cert }],
      material.ca !== undefined,
    );
  }

  readonly #handleExport: grpc.handleUnaryCall<Buffer, ExportResult> = (call, callback) => {
    this.#export.export(call.request, "protobuf").then(
      (result) => callback(null, result),
      (err: unknown) => {
        const e = asSecmonError(err);
        // Retryable errors are always UNAVAILABLE: the status senders retry on.
        callback({ code: e.retryable ? grpc.status.UNAVAILABLE : e.grpcStatus, details: e.message });
      },
    );
  };

  /** Checks the bearer token as soon as the metadata arrives, before the body is read. */
  readonly #interceptor: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const auth = this.#auth;
            if (auth !== undefined) {
              const value = metadata.get("authorization")[0];
              if (!auth.check(typeof value === "string" ? value : undefined)) {
                const e = new SecmonError("AUTH_REQUIRED");
                this.#export.countRequest("unauthenticated");
                call.sendStatus({ code: e.grpcStatus, details: e.message });
                return;
              }
            }
            nextMetadata(metadata);
          },
        });
      },
    });
}
