import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfigText } from "../../packages/detector/src/config/load.ts";
import { resolveOutboxConfig } from "../../packages/detector/src/outbox/config.ts";
import { COLLECTOR_VERSION, REPO_ROOT, type Tree } from "./paths.ts";

const composeText = readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8");
const compose: Tree = parse(composeText, { merge: true });
const services: Record<string, Tree> = compose.services;
const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever answers here; undefined if none. */
async function composeCommand(): Promise<string[] | undefined> {
  for (const cmd of [["docker", "compose"], ["docker-compose"]]) {
    const ok = await new Promise<boolean>((resolve) =>
      execFile(cmd[0]!, [...cmd.slice(1), "version"], { timeout: 10_000 }, (err) => resolve(err === null)),
    );
    if (ok) return cmd;
  }
  return undefined;
}

/** Values of ${VAR...} interpolations in the compose file. */
function interpolatedVariables(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
}

function envExample(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of read(".env.example").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!);
  }
  return vars;
}

describe("docker-compose.yml", () => {
  it("runs the whole pipeline", () => {
    expect(Object.keys(services).sort()).toEqual(
      ["collector", "demo", "detector", "grafana", "prometheus", "redis", "simulator"].sort(),
    );
  });

  it("pins every image it pulls (no latest, no floating major)", () => {
    expect(services.redis.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(services.collector.image).toBe(`secmon/otelcol-contrib:${COLLECTOR_VERSION}`);
    const collectorDockerfile = read(services.collector.build.dockerfile);
    expect(collectorDockerfile).toContain(`FROM otel/opentelemetry-collector-contrib:${COLLECTOR_VERSION}\n`);
    for (const file of ["deploy/docker/detector.Dockerfile", "deploy/docker/demo.Dockerfile"]) {
      const froms = [...read(file).matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
      expect(froms.length, file).toBe(2); // multi-stage
      for (const from of froms) expect(from, file).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
    }
  });

  it("names every pinned image in docs/deployment.md", () => {
    const docs = read("docs/deployment.md");
    const froms = ["collector", "detector", "demo"].flatMap((s) =>
      [...read(services[s].build.dockerfile).matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!),
    );
    const images = [services.redis.image, services.prometheus.image, services.grafana.image, ...froms];
    expect(images.filter((image) => !docs.includes(`\`${image}\``))).toEqual([]);
  });

  it("builds the Node images with pnpm from npm, a frozen lockfile, a pruned deploy and a non-root user", () => {
    for (const file of ["deploy/docker/detector.Dockerfile", "deploy/docker/demo.Dockerfile"]) {
      const text = read(file);
      const pnpmVersion = (JSON.parse(read("package.json")) as { packageManager: string }).packageManager;
      expect(text, file).toContain(`npm install --global ${pnpmVersion}`);
      expect(text, file).not.toMatch(/^RUN .*corepack/m);
      expect(text, file).toContain("pnpm install --frozen-lockfile");
      expect(text, file).toMatch(/deploy --prod/);
      expect(
        text
          .trimEnd()
          .split("\n")
          .filter((l) => /^USER /.test(l)),
        file,
      ).toEqual(["USER node"]);
    }
    expect(services.detector.build.dockerfile).toBe("deploy/docker/detector.Dockerfile");
    expect(services.demo.build.dockerfile).toBe("deploy/docker/demo.Dockerfile");
    expect(services.simulator.image).toBe(services.demo.image);
    expect(services.simulator.command.join(" ")).toBe(
      "node bin/secmon-simulate.js --otlp-endpoint http://collector:4317 --baseline 5 --all",
    );
    expect(services.demo.environment.HOST).toBe("0.0.0.0");
  });

  it("health-checks every long-running service; the one-shot simulator runs on request only", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (name === "simulator") {
        expect(svc.profiles).toEqual(["simulate"]);
        expect(svc.restart).toBe("no");
        continue;
      }
      expect(svc.healthcheck?.test?.[0], name).toBe("CMD");
      expect(svc.healthcheck.interval, name).toMatch(/^\d+s$/);
    }
  });

  it("publishes only Grafana, the demo service and the detector API, on loopback", () => {
    const published = Object.entries(services)
      .filter(([, svc]) => svc.ports)
      .map(([name, svc]) => [name, svc.ports]);
    expect(published).toEqual([
      ["detector", ["127.0.0.1:8080:8080"]],
      ["demo", ["127.0.0.1:3001:3000"]],
      ["grafana", ["127.0.0.1:3000:3000"]],
    ]);
  });

  it("keeps state in named volumes", () => {
    expect(Object.keys(compose.volumes).sort()).toEqual(
      ["collector-queue", "grafana-data", "prometheus-data", "redis-data"].sort(),
    );
    // The detector keeps nothing of its own: replicas (--scale detector=N) share Redis only.
    expect(services.detector.volumes).toEqual([
      "./deploy/detector/detector.yaml:/etc/secmon/detector.yaml:ro",
    ]);
    expect(services.redis.volumes).toContain("redis-data:/data");
    expect(services.collector.volumes).toContain("collector-queue:/var/lib/otelcol/queue");
    expect(services.prometheus.volumes).toContain("prometheus-data:/prometheus");
    expect(services.grafana.volumes).toContain("grafana-data:/var/lib/grafana");
  });

  it("mounts files that exist: collector configs, Prometheus config, Grafana provisioning, detector config", () => {
    const env = envExample();
    for (const [name, svc] of Object.entries(services)) {
      for (const v of (svc.volumes ?? []) as string[]) {
        const source = v
          .replace("${SECMON_COLLECTOR_CONFIG:-collector.yaml}", env.get("SECMON_COLLECTOR_CONFIG") ?? "")
          .split(":")[0]!;
        if (source.startsWith("./")) expect(existsSync(join(REPO_ROOT, source)), `${name}: ${v}`).toBe(true);
      }
    }
    expect(existsSync(join(REPO_ROOT, "collector-config/collector-replicas.yaml"))).toBe(true);
  });

  it("takes every secret from .env, and .env.example documents each variable", () => {
    const env = envExample();
    const used = interpolatedVariables(composeText);
    expect([...used].sort()).toEqual([...env.keys()].sort());
    for (const secret of [
      "SECMON_OTLP_TOKEN",
      "SECMON_API_TOKEN",
      "SECMON_HASH_SECRET",
      "GRAFANA_ADMIN_PASSWORD",
    ]) {
      expect(env.get(secret), secret).toBe("change-me");
      expect(composeText, secret).toContain(`\${${secret}:?`); // compose refuses to start without it
    }
    // No secret value is written into the compose file itself.
    expect(composeText).not.toMatch(/(TOKEN|SECRET|PASSWORD):\s+[^$\s]/);
  });

  it("passes the token the detector checks to the Collector that sends it", () => {
    expect(services.collector.environment.SECMON_OTLP_TOKEN).toBe(
      services.detector.environment.SECMON_OTLP_TOKEN,
    );
    expect(services.demo.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://collector:4317");
  });

  it("starts the detector after Redis is healthy, the demo after the Collector is healthy", () => {
    expect(services.detector.depends_on.redis.condition).toBe("service_healthy");
    expect(services.demo.depends_on.collector.condition).toBe("service_healthy");
    expect(services.grafana.depends_on.prometheus.condition).toBe("service_healthy");
  });

  it("ships a detector config that the detector's own schema accepts", () => {
    const result = parseConfigText(read("deploy/detector/detector.yaml"));
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (result.ok) expect(result.config.metrics.prometheus.endpoint).toBe("0.0.0.0:9464");
    // Scalable: state and outbox in the shared Redis (no per-replica file), and applied batches
    // remembered as long as the Collector retries one.
    if (result.ok) {
      expect(result.config.state.backend).toBe("redis");
      expect(resolveOutboxConfig(result.config.outbox, result.config.state.backend)).toEqual({
        type: "redis",
      });
      const retry = /max_elapsed_time: (\d+)m/.exec(read("collector-config/collector.yaml"));
      expect(result.config.state.redis.applied_batch_ttl_seconds).toBeGreaterThanOrEqual(
        Number(retry?.[1]) * 60,
      );
    }
  });

  it("is accepted by the compose CLI when one answers here (docker compose config)", async () => {
    const cmd = await composeCommand();
    if (cmd === undefined) {
      // No compose CLI on this machine: the structural checks above are the validation.
      expect(services.collector).toBeDefined();
      return;
    }
    const output = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile(
        cmd[0]!,
        [...cmd.slice(1), "--env-file", ".env.example", "-f", "docker-compose.yml", "config", "-q"],
        { cwd: REPO_ROOT, timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, text: `${stdout}${stderr}` }),
      ),
    );
    expect(output.text).toBe("");
    expect(output.code).toBe(0);
  });
});
