/**
 * `http.route` of the Express middleware through sub-applications and routers, over real HTTP on
 * Express 5: always the template of the layers that matched, never a raw path value, and absent
 * when the template cannot be known.
 */
import { ATTR } from "@secmon/semconv";
import express from "express";
import type { Express } from "express";
import { describe, expect, it } from "vitest";
import { createExpressMiddleware } from "../src/express.ts";
import { serveLoopback } from "./helpers/http.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";
import { servePerSuite } from "./helpers/served.ts";

function ok(text: string) {
  return (_req: express.Request, res: express.Response) => {
    res.send(text);
  };
}

/** Serves `mount(app)` behind the middleware and returns the `http.route` of one request. */
function routesOf(mount: (app: Express) => void) {
  const served = servePerSuite((logs: MemoryLogs) => {
    const app = express();
    app.use(createExpressMiddleware({ events: logs.events }));
    mount(app);
    return serveLoopback(app);
  });
  return async (path: string) => {
    const { response, record } = await served.one(path);
    expect(response.status).toBe(200);
    served.logs.exporter.reset();
    return record.attributes[ATTR.HTTP_ROUTE];
  };
}

describe("a sub-application mounted at several paths in one call", () => {
  const route = routesOf((app) => {
    const sub = express();
    sub.get("/x/:id", ok("x"));
    app.use(["/t/:tenant", "/u/:user"], sub);
  });

  it("gets the mount path that matched, as a template", async () => {
    expect(await route("/t/acme-tenant/x/1")).toBe("/t/:tenant/x/:id");
    expect(await route("/u/alice-user/x/2")).toBe("/u/:user/x/:id");
  });
});

describe("one sub-application mounted twice", () => {
  const route = routesOf((app) => {
    const sub = express();
    sub.get("/y/:id", ok("y"));
    app.use("/one/:a", sub);
    app.use("/two/:b", sub);
  });

  it("gets the mount that matched, not the last one", async () => {
    expect(await route("/one/AAA/y/1")).toBe("/one/:a/y/:id");
    expect(await route("/two/BBB/y/2")).toBe("/two/:b/y/:id");
  });
});

describe("a sub-application mounted in a router", () => {
  const route = routesOf((app) => {
    const sub = express();
    sub.get("/k/:id", ok("k"));
    const router = express.Router();
    router.use("/sub", sub);
    app.use("/orgs/:org", router);
  });

  it("keeps the router's mount path", async () => {
    expect(await route("/orgs/acme/sub/k/1")).toBe("/orgs/:org/sub/k/:id");
  });
});

describe("sub-applications nested in sub-applications and routers", () => {
  const route = routesOf((app) => {
    const inner = express();
    inner.get("/items/:item", ok("item"));
    const middle = express();
    const router = express.Router({ mergeParams: true });
    router.get("/:id", ok("r"));
    middle.use("/r/:r", router);
    middle.use("/inner/:i", inner);
    middle.get("/", ok("middle"));
    app.use("/m/:m", middle);
    // an unrelated sub-application beside it, and one in a router
    const other = express();
    other.get("/items/:item", ok("other"));
    app.use("/o", other);
    const inRouter = express();
    inRouter.get("/k/:id", ok("k"));
    const outer = express.Router();
    outer.use("/sub", inRouter);
    app.use("/orgs/:org", outer);
  });

  it("composes every mount path", async () => {
    expect(await route("/m/M1/inner/I1/items/7")).toBe("/m/:m/inner/:i/items/:item");
    expect(await route("/m/M1/r/R1/5")).toBe("/m/:m/r/:r/:id");
    expect(await route("/m/M2")).toBe("/m/:m");
    expect(await route("/o/items/3")).toBe("/o/items/:item");
    expect(await route("/orgs/acme/sub/k/1")).toBe("/orgs/:org/sub/k/:id");
  });
});

describe("a sub-application whose own routes did not answer", () => {
  const route = routesOf((app) => {
    const sub = express();
    sub.get("/only-here", ok("sub"));
    app.use("/s/:s", sub);
    app.get("/s/:s/after", ok("after"));
  });

  it("gets the route that answered, in the top application", async () => {
    expect(await route("/s/abc/after")).toBe("/s/:s/after");
    expect(await route("/s/abc/only-here")).toBe("/s/:s/only-here");
  });
});

describe("routes and mounts given as several paths", () => {
  const route = routesOf((app) => {
    app.get(["/arr/:id", "/arr2/:id"], ok("arr"));
    const router = express.Router({ mergeParams: true });
    router.get("/z/:id", ok("z"));
    app.use("/m1/:p", router);
    app.use("/m2/:q", router);
  });

  it("gets the path that matched", async () => {
    expect(await route("/arr/1")).toBe("/arr/:id");
    expect(await route("/arr2/2")).toBe("/arr2/:id");
    expect(await route("/m1/PPP/z/1")).toBe("/m1/:p/z/:id");
    expect(await route("/m2/QQQ/z/2")).toBe("/m2/:q/z/:id");
  });
});

describe("a template that cannot be known", () => {
  // One router in two sub-applications; the first one matched the path but gave up
  // (`next("router")`), so the route answered inside the second. Which sub-application a mount
  // layer holds is not visible from outside, so both are candidate templates: none is sent.
  const route = routesOf((app) => {
    const shared = express.Router();
    shared.get("/x", ok("x"));
    const first = express();
    first.use((_req, _res, next) => {
      next("router");
    });
    first.use(shared);
    const second = express();
    second.use(shared);
    app.use("/:any", first);
    app.use("/:tenant", second);
  });

  it("is left out rather than filled with raw path values", async () => {
    expect(await route("/acme/x")).toBeUndefined();
  });
});

describe("an app.use() sub-application above a router.use() one", () => {
  // `router.use(path, app)` does not record where the inner application is mounted, so the
  // application that `app.use("/m/:m", middle)` holds cannot be told from the request.
  const route = routesOf((app) => {
    const inner = express();
    inner.get("/items/:item", ok("item"));
    const router = express.Router();
    router.use("/inner", inner);
    const middle = express();
    middle.use(router);
    app.use("/m/:m", middle);
  });

  it("has no template rather than one with raw path values", async () => {
    expect(await route("/m/M1/inner/items/7")).toBeUndefined();
  });
});

describe("the middleware installed in a sub-application", () => {
  const served = servePerSuite((logs: MemoryLogs) => {
    const api = express();
    api.use(createExpressMiddleware({ events: logs.events }));
    api.get("/users/:id", ok("user"));
    const app = express();
    app.use("/api/:version", api);
    return serveLoopback(app);
  });

  it("still composes the mount path the sub-application is reached through", async () => {
    const { record } = await served.one("/api/v2/users/9");
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/api/:version/users/:id");
  });
});
