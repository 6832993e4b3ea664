import { request } from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";

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

/** Resolves once `check` returns true, polling on the event loop (no wall-clock sleeps in logic). */
export async function until(check: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (i > 50) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
