import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { checkCollectorConfig, type Manifest } from "./collector.ts";
import { promtoolCheckConfig } from "./prometheus.ts";
import { REPO_ROOT, COLLECTOR_VERSION, type Tree } from "./paths.ts";

const CONFIG_DIR = join(REPO_ROOT, "collector-config");
const manifest = JSON.parse(
  readFileSync(join(CONFIG_DIR, `components-${COLLECTOR_VERSION}.json`), "utf8"),
) as Manifest;
const configFiles = readdirSync(CONFIG_DIR).filter((f) => f.endsWith(".yaml"));

function load(file: string): Record<string, unknown> {
  return parse(readFileSync(join(CONFIG_DIR, file), "utf8")) as Record<string, unknown>;
}

/** A deep copy of a config with one change applied. */
function mutate(file: string, change: (c: Tree) => void): unknown {
  const copy = structuredClone(load(file));
  change(copy);
  return copy;
}

describe("Collector configs", () => {
  it("ships the single-detector and the N-replica configs, and a manifest for the pinned version", () => {
    expect(configFiles.sort()).toEqual(["collector-replicas.yaml", "collector.yaml"]);
    expect(manifest.version).toBe(COLLECTOR_VERSION);
    expect(manifest.image).toBe(`otel/opentelemetry-collector-contrib:${COLLECTOR_VERSION}`);
  });

  it.each(configFiles)(
    "%s: every component and key is known to the pinned version, the graph is whole",
    (file) => {
      const { problems } = checkCollectorConfig(load(file), manifest);
      expect(problems).toEqual([]);
    },
  );

  it.each(configFiles)("%s: names the pinned version in its header", (file) => {
    const text = readFileSync(join(CONFIG_DIR, file), "utf8");
    expect(text).toContain(`otel/opentelemetry-collector-contrib ${COLLECTOR_VERSION}`);
  });

  it.each(configFiles)(
    "%s: routes security events to the detector with auth, retry and a persistent queue",
    (file) => {
      const c: Tree = load(file);
      const service = c.service;
      expect(service.extensions).toEqual(
        expect.arrayContaining(["bearertokenauth/detector", "file_storage/queue", "health_check"]),
      );
      const route = c.connectors["routing/security"];
      expect(route.table).toEqual([
        {
          context: "log",
          condition: 'event_name != "" or attributes["event.name"] != nil',
          pipelines: ["logs/security"],
        },
      ]);
      expect(route.default_pipelines).toEqual(["logs/other"]);
      const [exporterId] = service.pipelines["logs/security"].exporters as string[];
      const exporter = c.exporters[exporterId!];
      const otlp = file === "collector.yaml" ? exporter : exporter.protocol.otlp;
      expect(otlp.auth.authenticator).toBe("bearertokenauth/detector");
      expect(exporter.retry_on_failure.enabled).toBe(true);
      expect(exporter.sending_queue.storage).toBe("file_storage/queue");
      expect(c.extensions["bearertokenauth/detector"].token).toBe("${env:SECMON_OTLP_TOKEN}");
      // The detector's metrics come in by scraping and go out to Prometheus.
      expect(service.pipelines["metrics/detector"]).toEqual({
        receivers: ["prometheus/detector"],
        exporters: ["prometheus/detector-metrics"],
      });
    },
  );

  it("collector-replicas.yaml balances on client.address over every detector replica", () => {
    const lb = (load("collector-replicas.yaml") as Tree).exporters["load_balancing/detectors"];
    expect(lb.routing_key).toBe("attributes");
    expect(lb.routing_attributes).toEqual(["client.address"]);
    expect(lb.resolver.dns.hostname).toBe("detector");
    expect(lb.protocol.otlp.endpoint).toBeUndefined();
  });

  it.each(configFiles)("%s: the embedded Prometheus scrape config passes promtool", async (file) => {
    const { prometheusConfigs } = checkCollectorConfig(load(file), manifest);
    expect([...prometheusConfigs.keys()]).toEqual(["prometheus/detector"]);
    for (const promConfig of prometheusConfigs.values()) {
      const result = await promtoolCheckConfig(stringify(promConfig));
      expect(result.output).toContain("SUCCESS");
      expect(result.ok).toBe(true);
    }
  });
});

describe("Collector config check catches mistakes", () => {
  const problemsOf = (c: unknown) => checkCollectorConfig(c, manifest).problems;

  it("a misspelt key, with its path", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.exporters["otlp_grpc/detector"].retry_on_failure.max_elaspsed_time = "30m";
    });
    const problems = problemsOf(bad);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^exporters\.otlp_grpc\/detector\.retry_on_failure\.max_elaspsed_time: unknown key/,
    );
  });

  it("a misspelt key deep in a shared block (grpc client tls) and in the load-balancing template", () => {
    const bad = mutate("collector-replicas.yaml", (c) => {
      c.exporters["load_balancing/detectors"].protocol.otlp.tls.insecur = true;
    });
    expect(problemsOf(bad)).toEqual([
      expect.stringMatching(
        /^exporters\.load_balancing\/detectors\.protocol\.otlp\.tls\.insecur: unknown key/,
      ),
    ]);
  });

  it("a deprecated component name of the pinned version (otlp, loadbalancing)", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.exporters["otlp/detector"] = c.exporters["otlp_grpc/detector"];
      delete c.exporters["otlp_grpc/detector"];
      c.service.pipelines["logs/security"].exporters = ["otlp/detector"];
    });
    expect(problemsOf(bad)).toContain(
      `exporters.otlp/detector: "otlp" is a deprecated alias in ${COLLECTOR_VERSION}; use "otlp_grpc"`,
    );
    const badLb = mutate("collector-replicas.yaml", (c) => {
      c.exporters["loadbalancing/detectors"] = c.exporters["load_balancing/detectors"];
      delete c.exporters["load_balancing/detectors"];
      c.service.pipelines["logs/security"].exporters = ["loadbalancing/detectors"];
    });
    expect(problemsOf(badLb)[0]).toMatch(/"loadbalancing" is a deprecated alias/);
  });

  it("an unknown component type", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.processors.batchh = {};
      c.service.pipelines.traces.processors.push("batchh");
    });
    expect(problemsOf(bad)).toEqual([
      expect.stringMatching(/^processors\.batchh: unknown processor type "batchh"/),
    ]);
  });

  it("a pipeline naming an undefined component, and a defined component no pipeline uses", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.service.pipelines.traces.exporters = ["debug/elsewhere"];
      c.processors["memory_limiter/spare"] = { check_interval: "1s", limit_percentage: 50 };
    });
    expect(problemsOf(bad).sort()).toEqual([
      "processors.memory_limiter/spare: defined but used by no pipeline",
      'service.pipelines.traces.exporters: "debug/elsewhere" is not defined under exporters or connectors',
    ]);
  });

  it("an auth or storage extension missing from service.extensions", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.service.extensions = ["health_check", "file_storage/queue"];
    });
    expect(problemsOf(bad).sort()).toEqual([
      'exporters.otlp_grpc/detector.auth.authenticator: "bearertokenauth/detector" is not an extension listed in service.extensions',
      "extensions.bearertokenauth/detector: defined but not in service.extensions",
    ]);
  });

  it("a component in a pipeline of a signal it does not support, and a half-wired connector", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.service.pipelines.traces.receivers = ["otlp", "prometheus/detector"];
      c.service.pipelines["logs/other"].receivers = ["otlp"];
    });
    expect(problemsOf(bad).sort()).toEqual([
      'connectors.routing/security.default_pipelines[0]: pipeline "logs/other" does not list routing/security as a receiver',
      'service.pipelines.traces.receivers: "prometheus/detector" does not support traces',
    ]);
  });

  it("a wrong value type or enum value", () => {
    const bad = mutate("collector.yaml", (c) => {
      c.processors.memory_limiter.check_interval = "soon";
      c.connectors["routing/security"].table[0].context = "record";
    });
    expect(problemsOf(bad)).toEqual([
      'processors.memory_limiter.check_interval: must be a duration like 5s (got "soon")',
      'connectors.routing/security.table[0].context: must be one of request, resource, log, span, metric, datapoint (got "record")',
    ]);
  });
});
