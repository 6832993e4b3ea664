/**
 * Express middleware: one `api.request` per request, emitted when the response is complete or
 * the client went away. Install it first (`app.use(createExpressMiddleware({ events }))`) so that
 * it sees every request and counts the bytes after any compression middleware.
 */
import type { ServerResponse } from "node:http";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { InstrumentationConfigError } from "./errors.ts";
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
import type { ExpressMiddlewareOptions, SecurityEvents, UserIdGetter } from "./types.ts";

interface LayerLike {
  readonly route?: unknown;
  readonly handle?: unknown;
  /** router >= 2.3: the path(s) the layer was registered with. */
  readonly rawPath?: unknown;
  /** router >= 2.3: `{ path, pattern, … } | false` (`pattern`: the registered path that matched). */
  readonly match?: (path: string) => unknown;
}

interface AppLike {
  readonly router?: unknown;
  readonly _router?: unknown;
  /** The application it was last mounted in with `app.use` (not set by `router.use`). */
  readonly parent?: AppLike;
}

/** Deepest nesting of routers and applications followed. */
const MAX_DEPTH = 16;
/** Candidate templates collected for one request before giving up on telling them apart. */
const MAX_CANDIDATES = 8;

interface CachedTemplate {
  /** `req.app` and the top application the template was worked out for. */
  readonly app: AppLike | undefined;
  readonly root: AppLike;
  /** The template, or undefined when it depends on the request path (matched per request). */
  readonly template: string | undefined;
}

/** Per Route object: its template, when the route is reachable along exactly one chain of mounts. */
const templateCache = new WeakMap<object, CachedTemplate>();

function stackOf(router: unknown): readonly LayerLike[] | undefined {
  if ((typeof router !== "function" && typeof router !== "object") || router === null) return undefined;
  const stack = (router as { stack?: unknown }).stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

/** An Express application used as a handler (`router.use("/x", subApp)` passes the app itself). */
function isApp(handle: unknown): handle is AppLike {
  return (
    typeof handle === "function" &&
    typeof (handle as { handle?: unknown }).handle === "function" &&
    typeof (handle as { set?: unknown }).set === "function"
  );
}

/** The wrapper `app.use(path, subApp)` registers: a closure, so which application it holds is not visible. */
function isMountedApp(handle: unknown): boolean {
  return typeof handle === "function" && handle.name === "mounted_app";
}

function appStack(app: AppLike): readonly LayerLike[] | undefined {
  return stackOf(app.router ?? app._router);
}

/** A layer's registered path as template text, when it is one path (not a list of them). */
function singlePattern(path: unknown): string | undefined {
  if (typeof path === "string") return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path) && path.length === 1) return singlePattern(path[0]);
  return undefined;
}

/** Joins a mount path and a route path the way Express matches them. */
function joinPath(prefix: string, path: string): string {
  if (prefix === "" || prefix === "/") return path;
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (path === "/" || path === "") return base;
  return path.startsWith("/") ? base + path : `${base}/${path}`;
}

/** What the search knows about one request. */
interface Search {
  readonly route: object;
  /**
   * `req.app` (the application the request was answered in) and the applications it was mounted
   * in: for a `mounted_app` layer of application A, the one among them whose parent is A is the
   * application it holds (at most one is).
   */
  readonly apps: readonly AppLike[];
}

/** Where a layer leads: a router's layers (same application) or a sub-application's. */
interface Inner {
  readonly stack: readonly LayerLike[];
  readonly app: AppLike;
  /** A `mounted_app` layer taken to hold `app` while its application has several of them. */
  readonly guessed: boolean;
}

function innerOf(layer: LayerLike, app: AppLike, search: Search): Inner | undefined {
  const handle = layer.handle;
  const stack = stackOf(handle);
  if (stack !== undefined) return { stack, app, guessed: false };
  if (isApp(handle)) {
    const subStack = appStack(handle);
    return subStack === undefined ? undefined : { stack: subStack, app: handle, guessed: false };
  }
  if (!isMountedApp(handle)) return undefined;
  const sub = search.apps.find((candidate) => candidate.parent === app);
  const subStack = sub === undefined ? undefined : appStack(sub);
  if (sub === undefined || subStack === undefined) return undefined;
  let mounted = 0;
  for (const other of appStack(app) ?? []) if (isMountedApp(other.handle)) mounted++;
  return { stack: subStack, app: sub, guessed: mounted > 1 };
}

/**
 * Counts the chains of layers that lead from `stack` to the route, without looking at a path;
 * `chains.template` is the last one's template (undefined where a step has several paths).
 */
function countChains(
  stack: readonly LayerLike[],
  app: AppLike,
  prefix: string | undefined,
  depth: number,
  search: Search,
  chains: { count: number; template: string | undefined },
  seen: Set<unknown>,
): void {
  for (const layer of stack) {
    if (chains.count > 1) return;
    if (layer.route !== undefined) {
      if (layer.route === search.route) {
        const pattern = singlePattern(layer.rawPath);
        chains.count++;
        chains.template =
          prefix === undefined || pattern === undefined ? undefined : joinPath(prefix, pattern);
      }
      continue;
    }
    if (depth >= MAX_DEPTH) continue;
    const inner = innerOf(layer, app, search);
    if (inner === undefined || seen.has(inner.stack)) continue;
    seen.add(inner.stack);
    const mount = singlePattern(layer.rawPath);
    const next = prefix === undefined || mount === undefined ? undefined : joinPath(prefix, mount);
    countChains(inner.stack, inner.app, next, depth + 1, search, chains, seen);
    seen.delete(inner.stack);
  }
}

interface Candidate {
  readonly template: string | undefined;
  /** Passed a `mounted_app` layer that may hold another application than the one assumed. */
  readonly guessed: boolean;
}

/**
 * Matches the request path layer by layer as the router does (router >= 2.3 reports the
 * registered path that matched) and collects, in the router's order, the templates of the chains
 * that end at the route.
 */
function matchChains(
  stack: readonly LayerLike[],
  app: AppLike,
  path: string,
  prefix: string,
  guessed: boolean,
  depth: number,
  search: Search,
  found: Candidate[],
): void {
  for (const layer of stack) {
    if (found.length >= MAX_CANDIDATES || (found.length > 0 && !(found[0] as Candidate).guessed)) return;
    let match: unknown;
    try {
      match = layer.match?.(path);
    } catch {
      continue;
    }
    if (typeof match !== "object" || match === null) continue;
    const pattern = singlePattern((match as { pattern?: unknown }).pattern);
    if (layer.route !== undefined) {
      if (layer.route === search.route) {
        found.push({ template: pattern === undefined ? undefined : joinPath(prefix, pattern), guessed });
      }
      continue;
    }
    if (pattern === undefined || depth >= MAX_DEPTH) continue;
    const inner = innerOf(layer, app, search);
    if (inner === undefined) continue;
    // the part of the path the layer consumed, as the router trims it
    const matched = (match as { path?: unknown }).path;
    const consumed = typeof matched === "string" ? matched : "";
    if (consumed !== "") {
      if (!path.startsWith(consumed)) continue;
      const after = path.charCodeAt(consumed.length);
      if (!Number.isNaN(after) && after !== 47 /* / */) continue;
    }
    let rest = path.slice(consumed.length);
    if (!rest.startsWith("/")) rest = `/${rest}`;
    const next = joinPath(prefix, pattern);
    matchChains(inner.stack, inner.app, rest, next, guessed || inner.guessed, depth + 1, search, found);
  }
}

/** The template the router used: the first chain's, unless an earlier guess leaves it open. */
function decide(found: readonly Candidate[]): string | undefined {
  const first = found[0];
  if (first === undefined || !first.guessed) return first?.template;
  return found.every((candidate) => candidate.template === first.template) ? first.template : undefined;
}

function rootOf(app: AppLike): AppLike {
  let root = app;
  for (let i = 0; i < MAX_DEPTH && root.parent !== undefined; i++) root = root.parent;
  return root;
}

/**
 * The route template of the request, composing the mount paths of nested routers and
 * sub-applications with the route path (`app.use("/orgs/:org", router)` + `router.get("/:id")`
 * = `/orgs/:org/:id`), worked out from the application the middleware runs in (`topApp`; default:
 * the top of `req.app`'s mount chain). Undefined when no route matched or when the template
 * cannot be known: never built from the raw path.
 */
function expressRouteTemplate(req: Request, topApp?: unknown): string | undefined {
  const route = (req as { route?: unknown }).route;
  if (typeof route !== "object" || route === null) return undefined;
  const app = (req as { app?: AppLike }).app;
  const start = (topApp as AppLike | undefined) ?? app;
  if (start === undefined) return undefined;
  const root = rootOf(start);
  const cached = templateCache.get(route);
  if (cached !== undefined && cached.app === app && cached.root === root && cached.template !== undefined) {
    return cached.template;
  }
  const stack = appStack(root);
  if (stack === undefined) return undefined;
  const apps: AppLike[] = [];
  for (let current = app; current !== undefined && apps.length < MAX_DEPTH; current = current.parent) {
    apps.push(current);
  }
  const search: Search = { route, apps };
  if (cached === undefined || cached.app !== app || cached.root !== root) {
    const chains = { count: 0, template: undefined as string | undefined };
    countChains(stack, root, "", 0, search, chains, new Set());
    const template = chains.count === 1 ? chains.template : undefined;
    templateCache.set(route, { app, root, template });
    if (template !== undefined) return template;
  }
  const found: Candidate[] = [];
  matchChains(stack, root, pathOf(req.originalUrl ?? req.url), "", false, 0, search, found);
  return decide(found);
}

/** Express's address after `trust proxy` handling. */
const expressIp = (req: Request) => req.ip;

const defaultUserId: UserIdGetter<Request> = (req) => {
  const user = (req as { user?: { id?: unknown } }).user;
  const id = user?.id;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
};

/** The `events` option, or a configuration error naming it (the Fastify plugin reports the same through diag). */
function requireEvents(options: Partial<ExpressMiddlewareOptions<never>> | undefined): SecurityEvents {
  const events = options?.events;
  if (typeof events === "object" && events !== null && typeof events.apiRequest === "function") return events;
  const got =
    options === undefined
      ? "no options"
      : events === undefined
        ? "no `events`"
        : "an `events` without apiRequest()";
  throw new InstrumentationConfigError(
    "EVENTS_MISSING",
    "@secmon/instrumentation: createExpressMiddleware() needs the `events` option, the object " +
      `createSecurityEvents() returns: \`app.use(createExpressMiddleware({ events: security }))\` (got ${got}).`,
  );
}

/**
 * Express middleware emitting one `api.request` per request (complete, streamed, failed with a
 * thrown error, or aborted by the client). Throws an {@link InstrumentationConfigError} when
 * `events` is missing; after that it never throws: faults go to OpenTelemetry `diag`.
 */
export function createExpressMiddleware<Req extends Request = Request>(
  options: ExpressMiddlewareOptions<Req>,
): RequestHandler {
  const events = requireEvents(options);
  const getUserId = (options.getUserId ?? defaultUserId) as UserIdGetter<Request>;
  // the application the middleware runs in, where route templates start (see expressRouteTemplate)
  let topApp: unknown;
  let severalApps = false;

  function finish(tracking: ResponseTracking, response: ServerResponse, aborted: boolean): void {
    const req = tracking.request as Request;
    let route: string | undefined;
    try {
      route = expressRouteTemplate(req, severalApps ? undefined : topApp);
    } catch (error) {
      reportFault("express route template", error, "the api.request event was sent without http.route");
    }
    let userId: string | number | undefined;
    try {
      userId = getUserId(req) ?? undefined;
    } catch (error) {
      reportFault("express getUserId", error, "the api.request event was sent without user.id");
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
      const app: unknown = req.app;
      if (app !== topApp) {
        if (topApp === undefined) topApp = app;
        else severalApps = true;
      }
      trackResponse(res, req, finish, clientAddress(req, req.socket, expressIp));
    } catch (error) {
      reportFault("express middleware", error, "no api.request event for this request");
    }
    next();
  };
}
