/**
 * Express middleware: one `api.request` per request, emitted when the response is complete or
 * the client went away. Install it first (`app.use(createExpressMiddleware({ events }))`) so that
 * it sees every request and counts the bytes after any compression middleware.
 */
import type { ServerResponse } from "node:http";
import type { NextFunction, Request, RequestHandler, Response } from "express";
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
import type { ExpressMiddlewareOptions, UserIdGetter } from "./types.ts";

interface RouteLike {
  readonly path?: unknown;
}

interface LayerLike {
  readonly route?: RouteLike;
  readonly handle?: unknown;
  /** router >= 2.3: the path the layer was registered with. */
  readonly rawPath?: unknown;
  /** router >= 2.3: `{ path, pattern, … } | false`; older: boolean. */
  readonly match?: (path: string) => unknown;
}

interface AppLike {
  readonly router?: { readonly stack?: unknown };
  readonly _router?: { readonly stack?: unknown };
  readonly parent?: AppLike;
  readonly mountpath?: unknown;
}

const MAX_ROUTER_DEPTH = 16;
const AMBIGUOUS = "\u0000ambiguous";

/** Template per Route object, once known to be reachable along exactly one chain of mounts. */
const templateCache = new WeakMap<object, string | null>();

function stackOf(handle: unknown): readonly LayerLike[] | undefined {
  if ((typeof handle !== "function" && typeof handle !== "object") || handle === null) return undefined;
  const stack = (handle as { stack?: unknown }).stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

function patternText(pattern: unknown): string | undefined {
  if (typeof pattern === "string") return pattern;
  if (pattern instanceof RegExp) return String(pattern);
  return undefined;
}

/** Joins a mount path and a route path the way Express matches them. */
function joinPath(prefix: string, path: string): string {
  if (prefix === "" || prefix === "/") return path;
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (path === "/" || path === "") return base;
  return path.startsWith("/") ? base + path : `${base}/${path}`;
}

/** Every mount chain that leads to `route`, as templates (AMBIGUOUS where a step has no single pattern). */
function collectTemplates(
  stack: readonly LayerLike[],
  route: object,
  prefix: string,
  depth: number,
  found: string[],
  seen: Set<unknown>,
): void {
  for (const layer of stack) {
    if (found.length > 1) return;
    if (layer.route !== undefined) {
      if (layer.route === route) {
        const pattern = patternText(layer.rawPath ?? (route as RouteLike).path);
        found.push(pattern === undefined || prefix === AMBIGUOUS ? AMBIGUOUS : joinPath(prefix, pattern));
      }
      continue;
    }
    const inner = stackOf(layer.handle);
    if (inner === undefined || seen.has(inner) || depth >= MAX_ROUTER_DEPTH) continue;
    seen.add(inner);
    const mount = layer.rawPath === undefined ? undefined : patternText(layer.rawPath);
    const next = prefix === AMBIGUOUS || mount === undefined ? AMBIGUOUS : joinPath(prefix, mount);
    collectTemplates(inner, route, next, depth + 1, found, seen);
    seen.delete(inner);
  }
}

/** Finds the template by matching the request path layer by layer (router >= 2.3). */
function matchTemplate(
  stack: readonly LayerLike[],
  route: object,
  path: string,
  prefix: string,
  depth: number,
): string | undefined {
  for (const layer of stack) {
    let match: unknown;
    try {
      match = layer.match?.(path);
    } catch {
      continue;
    }
    if (typeof match !== "object" || match === null) continue;
    const pattern = patternText((match as { pattern?: unknown }).pattern);
    if (layer.route !== undefined) {
      if (layer.route === route && pattern !== undefined) return joinPath(prefix, pattern);
      continue;
    }
    const inner = stackOf(layer.handle);
    if (inner === undefined || pattern === undefined || depth >= MAX_ROUTER_DEPTH) continue;
    const matched = (match as { path?: unknown }).path;
    let rest = typeof matched === "string" ? path.slice(matched.length) : path;
    if (!rest.startsWith("/")) rest = `/${rest}`;
    const found = matchTemplate(inner, route, rest, joinPath(prefix, pattern), depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Mount path of a sub-application, composed up to the top application. */
function appPrefix(app: AppLike | undefined): string | undefined {
  let prefix = "";
  for (let current = app; current?.parent !== undefined; current = current.parent) {
    const mount = patternText(current.mountpath);
    if (mount === undefined) return undefined;
    prefix = joinPath(mount, prefix === "" ? "/" : prefix);
  }
  return prefix === "/" ? "" : prefix;
}

/**
 * The route template of the request, composing the mount paths of nested routers and
 * sub-applications with the route path (`app.use("/orgs/:org", router)` + `router.get("/:id")`
 * = `/orgs/:org/:id`). Undefined when no route matched.
 */
export function expressRouteTemplate(req: Request): string | undefined {
  const route = (req as { route?: unknown }).route;
  if (typeof route !== "object" || route === null) return undefined;
  const app = (req as { app?: AppLike }).app;
  const prefix = appPrefix(app);
  let cached = templateCache.get(route);
  if (cached === undefined) {
    const stack = stackOf(app?.router ?? app?._router);
    const found: string[] = [];
    if (stack !== undefined) collectTemplates(stack, route, "", 0, found, new Set());
    if (found.length === 1 && found[0] !== AMBIGUOUS) cached = found[0] as string;
    else if (found.length > 0) cached = null;
    if (cached !== undefined) templateCache.set(route, cached);
  }
  if (typeof cached === "string" && prefix !== undefined) return joinPath(prefix, cached);
  if (cached === null && app?.parent === undefined) {
    const stack = stackOf(app?.router ?? app?._router);
    const path = pathOf(req.originalUrl ?? req.url);
    const found = stack === undefined ? undefined : matchTemplate(stack, route, path, "", 0);
    if (found !== undefined) return found;
  }
  // Not found in the tree (an older router, or a sub-application already left): best effort.
  const routePath = patternText((route as RouteLike).path);
  return routePath === undefined ? undefined : joinPath(req.baseUrl ?? "", routePath);
}

/** Express's address after `trust proxy` handling. */
const expressIp = (req: Request) => req.ip;

const defaultUserId: UserIdGetter<Request> = (req) => {
  const user = (req as { user?: { id?: unknown } }).user;
  const id = user?.id;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
};

/**
 * Express middleware emitting one `api.request` per request (complete, streamed, failed with a
 * thrown error, or aborted by the client). Never throws; faults go to OpenTelemetry `diag`.
 */
export function createExpressMiddleware<Req extends Request = Request>(
  options: ExpressMiddlewareOptions<Req>,
): RequestHandler {
  const events = options.events;
  const getUserId = (options.getUserId ?? defaultUserId) as UserIdGetter<Request>;

  function finish(tracking: ResponseTracking, response: ServerResponse, aborted: boolean): void {
    const req = tracking.request as Request;
    let route: string | undefined;
    try {
      route = expressRouteTemplate(req);
    } catch (error) {
      reportFault("express route template", error);
    }
    let userId: string | number | undefined;
    try {
      userId = getUserId(req) ?? undefined;
    } catch (error) {
      reportFault("express getUserId", error);
    }
    const status = aborted && !response.headersSent ? undefined : response.statusCode;
    events.apiRequest({
      request: req,
      clientAddress: tracking.clientAddress,
      userId,
      method: req.method,
      route,
      path: pathOf(req.originalUrl ?? req.url),
      statusCode: status,
      durationSeconds: elapsedSeconds(tracking),
      responseBodySize:
        status === undefined ? tracking.bytes : responseBodyBytes(req.method, status, tracking),
      requestBodySize: requestBodyBytes(req.headers),
      aborted,
    });
  }

  return function secmonExpressMiddleware(req: Request, res: Response, next: NextFunction): void {
    try {
      trackResponse(res, req, finish, clientAddress(req, req.socket, expressIp));
    } catch (error) {
      reportFault("express middleware", error);
    }
    next();
  };
}
