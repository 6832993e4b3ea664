/**
 * OTLP/HTTP logs receiver: `POST /v1/logs` with `application/x-protobuf` or `application/json`
 * bodies, optionally gzip-encoded, on node:http (or node:https with TLS). Answers per the
 * OTLP/HTTP spec: 200 with an ExportLogsServiceResponse (partial success), or an error status
 * with a google.rpc.Status body in the request's format.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { gunzip } from "node:zlib";
import { SecmonError, asSecmonError } from "../errors.ts";
import { splitEndpoint } from "../net.ts";
import type { BearerAuth } from "./auth.ts";
import type { HttpReceiverConfig } from "./config.ts";
import {
  encodeExportResponse,
  encodeStatus,
  exportResponseJson,
  outcomeOf,
  receiverCore,
  statusJson,
} from "./export.ts";
import type { LogsExport, ReceiverOptions, RequestFormat } from "./export.ts";
import { loadTls } from "./tls.ts";

export const LOGS_PATH = "/v1/logs";

const CONTENT_TYPE: Record<RequestFormat, string> = {
  protobuf: "application/x-protobuf",
  json: "application/json",
};

/** The request format from its Content-Type, or undefined when unsupported. */
function formatOf(contentType: string | undefined): RequestFormat | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

/** Reads a request body, refusing (without reading further) once it passes `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new SecmonError("OTLP_TOO_LARGE", `body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(
        new SecmonError("BAD_REQUEST", `request body could not be read: ${err.message}`, { cause: err }),
      );
    };
    const onAborted = () => onError(new Error("request aborted"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/** Gunzips with a cap on the output, so a small gzip bomb cannot take the memory. */
function gunzipCapped(body: Buffer, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    gunzip(body, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        reject(new SecmonError("OTLP_TOO_LARGE", `body decompresses to more than ${limit} bytes`));
      } else reject(new SecmonError("OTLP_MALFORMED", `invalid gzip body: ${err.message}`, { cause: err }));
    });
  });
}

export class OtlpHttpReceiver {
  readonly #config: HttpReceiverConfig;
  readonly #export: LogsExport;
  readonly #auth: BearerAuth | undefined;
  #server: Server | undefined;
  #port: number | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ReceiverOptions<HttpReceiverConfig>) {
    this.#config = options.config;
    const core = receiverCore("http", options);
    this.#export = core.export;
    this.#auth = core.auth;
  }

  /** The bound port once started (useful with port 0). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Listens; does nothing when the receiver is disabled in the configuration. */
  async start(): Promise<void> {
    if (this.#server !== undefined || !this.#config.enabled) return;
    const tls = this.#config.tls === undefined ? undefined : await loadTls(this.#config.tls);
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res);
    const server: Server =
      tls === undefined
        ? createHttpServer(handler)
        : createHttpsServer(
            {
              cert: tls.cert,
              key: tls.key,
              ...(tls.ca === undefined ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
            },
            handler,
          );
    const { host, port } = splitEndpoint(this.#config.endpoint);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        reject(
          new SecmonError("CONFIG_INVALID", `cannot listen on ${this.#config.endpoint}: ${err.message}`),
        );
      };
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#stopping = undefined;
  }

  /**
   * Stops accepting connections, answers requests arriving on open connections with 503, waits
   * for those in flight (at most shutdown_grace_seconds, then closes every connection).
   * Idempotent; safe before start.
   */
  stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return this.#stopping ?? Promise.resolve();
    this.#server = undefined;
    this.#stopping = new Promise<void>((resolve) => {
      const timer = setTimeout(
        () => server.closeAllConnections(),
        this.#config.shutdown_grace_seconds * 1000,
      );
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return this.#stopping;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res).catch((err: unknown) => {
      // #handle answers every error itself; this only guards against a failure to answer.
      if (!res.headersSent) this.#fail(res, "json", asSecmonError(err));
      else res.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = formatOf(req.headers["content-type"]) ?? "json";
    const path = req.url === undefined ? "" : req.url.split("?", 1)[0];
    if (path !== LOGS_PATH) {
      const err = new SecmonError("NOT_FOUND", `no route ${path}; OTLP logs go to ${LOGS_PATH}`);
      this.#fail(res, format, this.#counted(err));
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST");
      const err = new SecmonError("BAD_REQUEST", `method ${req.method ?? ""} not allowed`);
      this.#fail(res, format, this.#counted(err), 405);
      return;
    }
    let error: SecmonError | undefined;
    try {
      const body = await this.#body(req);
      const result = await this.#export.export(body.bytes, body.format);
      const payload =
        body.format === "protobuf" ? Buffer.from(encodeExportResponse(result)) : exportResponseJson(result);
      res.writeHead(200, {
        "Content-Type": CONTENT_TYPE[body.format],
        "Content-Length": Buffer.byteLength(payload),
        // While stopping, connections close after their last response.
        ...(this.#server === undefined ? { Connection: "close" } : {}),
      });
      res.end(payload);
      return;
    } catch (err) {
      error = asSecmonError(err);
    }
    this.#fail(res, format, error);
  }

  /** Checks the request before and while reading it; returns the (decompressed) body. */
  async #body(req: IncomingMessage): Promise<{ bytes: Buffer; format: RequestFormat }> {
    if (this.#server === undefined) throw this.#counted(new SecmonError("SHUTTING_DOWN"));
    if (this.#auth !== undefined && !this.#auth.check(req.headers.authorization)) {
      throw this.#counted(new SecmonError("AUTH_REQUIRED"));
    }
    const format = formatOf(req.headers["content-type"]);
    if (format === undefined) {
      const type = req.headers["content-type"] ?? "none";
      throw this.#counted(new SecmonError("OTLP_UNSUPPORTED_MEDIA_TYPE", `got ${type}`));
    }
    const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (encoding !== "identity" && encoding !== "gzip") {
      throw this.#counted(new SecmonError("OTLP_UNSUPPORTED_ENCODING", `got ${encoding}`));
    }
    const limit = this.#config.max_request_bytes;
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) {
      throw this.#counted(new SecmonError("OTLP_TOO_LARGE", `body of ${declared} bytes exceeds ${limit}`));
    }
    let bytes: Buffer;
    try {
      bytes = await readBody(req, limit);
      if (encoding === "gzip") bytes = await gunzipCapped(bytes, limit);
    } catch (err) {
      throw this.#counted(asSecmonError(err));
    }
    return { bytes, format };
  }

  /** Counts a request refused before it reached the export, and returns the error. */
  #counted(err: SecmonError): SecmonError {
    this.#export.countRequest(outcomeOf(err));
    return err;
  }

  /** Answers an error; retryable errors are always 503 with Retry-After, which senders retry. */
  #fail(
    res: ServerResponse,
    format: RequestFormat,
    err: SecmonError,
    status = err.retryable ? 503 : err.httpStatus,
  ): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string | number> = { "Content-Type": CONTENT_TYPE[format] };
    if (err.retryable) headers["Retry-After"] = this.#config.retry_after_seconds;
    if (err.code === "AUTH_REQUIRED") headers["WWW-Authenticate"] = "Bearer";
    // Refusing a body we did not read: close the connection rather than read it to keep it.
    if (err.code === "OTLP_TOO_LARGE" || this.#server === undefined) headers["Connection"] = "close";
    const payload =
      format === "protobuf"
        ? Buffer.from(encodeStatus(err.grpcStatus, err.message))
        : statusJson(err.grpcStatus, err.message);
    headers["Content-Length"] = Buffer.byteLength(payload);
    res.writeHead(status, headers);
    res.end(payload);
  }
}
