/**
 * Response bookkeeping shared by the Express middleware and the Fastify plugin: counts the body
 * bytes written to the socket and calls back exactly once, when the response is complete or the
 * client went away. Uses shared functions (no closures per request) and a symbol on the response.
 */
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { reportFault } from "./faults.ts";
import type { ResponseTracking } from "./internal-types.ts";

const TRACKING = Symbol("@secmon/instrumentation.response");

type TrackedResponse = ServerResponse & { [TRACKING]?: ResponseTracking };

function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === "string") {
    return Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

function count(
  response: TrackedResponse,
  tracking: ResponseTracking,
  chunk: unknown,
  encoding: unknown,
): void {
  try {
    if (!response.writableEnded && !response.destroyed) tracking.bytes += chunkBytes(chunk, encoding);
  } catch (error) {
    reportFault("response byte count", error);
  }
}

// Explicit parameters and `arguments.length` (not rest arrays): no allocation per call, and the
// original sees exactly the arguments the caller passed.
function countingWrite(
  this: TrackedResponse,
  chunk?: unknown,
  encoding?: unknown,
  callback?: unknown,
): boolean {
  const tracking = this[TRACKING] as ResponseTracking;
  count(this, tracking, chunk, encoding);
  switch (arguments.length) {
    case 1:
      return tracking.write.call(this, chunk);
    case 2:
      return tracking.write.call(this, chunk, encoding);
    default:
      return tracking.write.call(this, chunk, encoding, callback);
  }
}

function countingEnd(
  this: TrackedResponse,
  chunk?: unknown,
  encoding?: unknown,
  callback?: unknown,
): unknown {
  const tracking = this[TRACKING] as ResponseTracking;
  if (typeof chunk !== "function") count(this, tracking, chunk, encoding);
  switch (arguments.length) {
    case 0:
      return tracking.end.call(this);
    case 1:
      return tracking.end.call(this, chunk);
    case 2:
      return tracking.end.call(this, chunk, encoding);
    default:
      return tracking.end.call(this, chunk, encoding, callback);
  }
}

function onClose(this: TrackedResponse): void {
  const tracking = this[TRACKING];
  if (tracking === undefined || tracking.done) return;
  tracking.done = true;
  try {
    tracking.finish(tracking, this, !this.writableFinished);
  } catch (error) {
    reportFault("api.request on response close", error);
  }
}

/**
 * Starts tracking a response. Returns false (and does nothing) when it is already tracked, so an
 * integration installed twice still emits one event per request.
 */
export function trackResponse(
  response: ServerResponse,
  request: unknown,
  finish: ResponseTracking["finish"],
  address: string | undefined,
): boolean {
  const tracked = response as TrackedResponse;
  if (tracked[TRACKING] !== undefined) return false;
  tracked[TRACKING] = {
    start: performance.now(),
    bytes: 0,
    done: false,
    write: response.write as ResponseTracking["write"],
    end: response.end as ResponseTracking["end"],
    finish,
    request,
    clientAddress: address,
  };
  response.write = countingWrite as ServerResponse["write"];
  response.end = countingEnd as ServerResponse["end"];
  response.on("close", onClose); // `done` makes it fire once; `on` avoids a wrapper per request
  return true;
}

/** Seconds since tracking started, as a double. */
export function elapsedSeconds(tracking: ResponseTracking): number {
  return (performance.now() - tracking.start) / 1000;
}

/** Body bytes sent: what was written, or 0 where HTTP forbids a body (HEAD, 1xx, 204, 304). */
export function responseBodyBytes(
  method: string | undefined,
  status: number,
  tracking: ResponseTracking,
): number {
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) return 0;
  return tracking.bytes;
}

/** `Content-Length` of the request, when it states one. */
export function requestBodyBytes(headers: IncomingHttpHeaders): number | undefined {
  const length = headers["content-length"];
  if (typeof length !== "string" || length === "" || length.length > 15) return undefined;
  for (let i = 0; i < length.length; i++) {
    const c = length.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(length);
}

/** The path of a request target, without query string or fragment. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const q = url.indexOf("?");
  const h = url.indexOf("#");
  const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return cut < 0 ? url : url.slice(0, cut);
}

/**
 * The client address as the framework's trusted-proxy handling gives it (`frameworkAddress`,
 * e.g. Express `req.ip`), without paying for proxy-addr when there is nothing to resolve: with no
 * X-Forwarded-For header, proxy-addr answers the socket's address whatever the trust setting.
 */
export function clientAddress<R extends { readonly headers: IncomingHttpHeaders }>(
  request: R,
  socket: Socket | null | undefined,
  frameworkAddress: (request: R) => string | undefined,
): string | undefined {
  const forwarded = request.headers["x-forwarded-for"];
  if (forwarded === undefined || forwarded === "") return socket?.remoteAddress;
  return frameworkAddress(request);
}
