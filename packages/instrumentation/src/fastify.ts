/**
 * Fastify plugin: one `api.request` per request, emitted when the response is complete or the
 * client went away. Wrapped with fastify-plugin, so its hook applies to every route of the
 * instance it is registered on, including the not-found handler.
 */
import type { ServerResponse } from "node:http";
import { diag } from "@opentelemetry/api";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { reportFault } from "./faults.ts";
import {
  clientAddress,
  elapsedSeconds,
  pathOf,
  requestBodyBytes,
  responseBodyBytes,
  trackResponse,
} from "./http.ts";
import type { ResponseTracking } from "./internal-types.ts";
import type { FastifyOptions, UserIdGetter } from "./types.ts";

/** Fastify's address after `trustProxy` handling. */
const fastifyIp = (request: FastifyRequest) => request.ip;

const defaultUserId: UserIdGetter<FastifyRequest> = (request) => {
  const user = (request as { user?: { id?: unknown } }).user;
  const id = user?.id;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
};

function plugin(
  instance: FastifyInstance,
  options: FastifyOptions<FastifyRequest>,
  done: (err?: Error) => void,
) {
  const events = options?.events;
  if (events === undefined) {
    diag.error(
      "@secmon/instrumentation: the Fastify plugin was registered without `events`; it does nothing",
    );
    done();
    return;
  }
  const getUserId = options.getUserId ?? defaultUserId;

  function finish(tracking: ResponseTracking, response: ServerResponse, aborted: boolean): void {
    const request = tracking.request as FastifyRequest;
    let userId: string | number | undefined;
    try {
      userId = getUserId(request) ?? undefined;
    } catch (error) {
      reportFault("fastify getUserId", error);
    }
    const status = aborted && !response.headersSent ? undefined : response.statusCode;
    let route: string | undefined;
    try {
      route = request.routeOptions?.url;
    } catch (error) {
      reportFault("fastify route template", error);
    }
    events!.apiRequest({
      request,
      clientAddress: tracking.clientAddress,
      userId,
      method: request.method,
      route,
      path: pathOf(request.url),
      statusCode: status,
      durationSeconds: elapsedSeconds(tracking),
      responseBodySize:
        status === undefined ? tracking.bytes : responseBodyBytes(request.method, status, tracking),
      requestBodySize: requestBodyBytes(request.headers),
      aborted,
    });
  }

  instance.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, hookDone: () => void) => {
    try {
      trackResponse(reply.raw, request, finish, clientAddress(request, request.raw.socket, fastifyIp));
    } catch (error) {
      reportFault("fastify onRequest hook", error);
    }
    hookDone();
  });
  done();
}

/**
 * `app.register(secmonFastify, { events })`. Client addresses come from `request.ip`, so they
 * honour Fastify's `trustProxy` setting.
 */
export const secmonFastify = fastifyPlugin<FastifyOptions<FastifyRequest>>(plugin, {
  name: "@secmon/instrumentation",
  fastify: "5.x",
});
