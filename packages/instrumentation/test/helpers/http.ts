import { createServer, request } from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Readable } from "node:stream";

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One HTTP request over loopback; resolves with the whole response. */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Starts a request, reads until `afterBytes` body bytes arrived, then destroys the connection
 * (the client aborts mid-stream). Resolves with the number of bytes received before the abort.
 */
export function abortAfter(url: string, afterBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const req = request(url, { agent: false }, (res) => {
      res.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received >= afterBytes) {
          req.destroy();
          resolve(received);
        }
      });
      res.on("error", () => undefined);
    });
    req.on("error", (error) => {
      if (received >= afterBytes) return;
      reject(error);
    });
    req.end();
  });
}

export function baseUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** An app listening on 127.0.0.1: its base URL, and close(), which also ends kept-alive connections. */
export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves a request handler (an Express app, say) on 127.0.0.1 on a free port. */
export async function serveLoopback(handler: RequestListener): Promise<RunningApp> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: baseUrl(server),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A readable that produces `total` bytes in `chunk`-sized pieces, yielding between chunks. */
export function byteStream(total: number, chunk = 16 * 1024): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk, total - sent);
      sent += size;
      setImmediate(() => this.push(Buffer.alloc(size, 0x61)));
    },
  });
}

/** Resolves once `check` returns true, polling on the event loop (no wall-clock sleeps in logic). */
export async function until(check: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (i > 50) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
