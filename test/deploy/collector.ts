/**
 * Offline validation of OpenTelemetry Collector configuration files against a manifest of the
 * pinned Collector version's component types and configuration keys
 * (collector-config/components-<version>.json). No Collector binary is needed.
 */

/** How a configuration value is described in the manifest. */
export type Spec =
  | LeafType
  | { readonly enum: readonly string[] }
  | { readonly ref: string }
  | ObjectSpec
  | { readonly items: Spec };

export interface ObjectSpec {
  readonly keys?: Readonly<Record<string, Spec>>;
  readonly include?: readonly string[];
}

type LeafType =
  | "string"
  | "int"
  | "number"
  | "bool"
  | "duration"
  | "map"
  | "any"
  | "component_id"
  | "pipeline_id"
  | "prometheus_config"
  | `${"string" | "int" | "component_id" | "pipeline_id"}[]`;

export interface ComponentSpec {
  readonly signals?: readonly Signal[];
  /** Connectors only: the connector links pipelines of the same signal. */
  readonly same_signal?: boolean;
  readonly config: Spec;
}

export type Kind = "receivers" | "processors" | "exporters" | "connectors" | "extensions";
export type Signal = "traces" | "metrics" | "logs";

export interface Manifest {
  readonly version: string;
  readonly image: string;
  readonly deprecated_aliases: Partial<Record<Kind, Readonly<Record<string, string>>>>;
  readonly defs: Readonly<Record<string, Spec>>;
  readonly service: Spec;
  readonly receivers: Readonly<Record<string, ComponentSpec>>;
  readonly processors: Readonly<Record<string, ComponentSpec>>;
  readonly exporters: Readonly<Record<string, ComponentSpec>>;
  readonly connectors: Readonly<Record<string, ComponentSpec>>;
  readonly extensions: Readonly<Record<string, ComponentSpec>>;
}

export interface CheckResult {
  /** Every problem found, each starting with the path it concerns. */
  readonly problems: string[];
  /** The Prometheus configurations embedded in prometheus receivers, by component id. */
  readonly prometheusConfigs: Map<string, unknown>;
}

const KINDS: readonly Kind[] = ["receivers", "processors", "exporters", "connectors", "extensions"];
const SIGNALS: readonly Signal[] = ["traces", "metrics", "logs"];
const ENV_REF = /^\$\{(env:)?[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/;
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const ID = /^[a-z][a-z0-9_]*(\/[^/\s]+)?$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The type part of a component id: `otlp_grpc/detector` → `otlp_grpc`. */
export function componentType(id: string): string {
  const slash = id.indexOf("/");
  return slash === -1 ? id : id.slice(0, slash);
}

class Checker {
  readonly problems: string[] = [];
  readonly prometheusConfigs = new Map<string, unknown>();
  private readonly manifest: Manifest;
  private currentComponent = "";
  /** References to component ids found inside component configs (authenticator, storage). */
  readonly idRefs: { path: string; id: string }[] = [];
  readonly pipelineRefs: { path: string; id: string }[] = [];

  constructor(manifest: Manifest) {
    this.manifest = manifest;
  }

  private problem(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  private resolve(spec: Spec, path: string): Spec | undefined {
    let s = spec;
    const seen = new Set<string>();
    while (typeof s === "object" && "ref" in s) {
      if (seen.has(s.ref)) {
        this.problem(path, `manifest: circular ref ${s.ref}`);
        return undefined;
      }
      seen.add(s.ref);
      const next = this.manifest.defs[s.ref];
      if (next === undefined) {
        this.problem(path, `manifest: unknown ref ${s.ref}`);
        return undefined;
      }
      s = next;
    }
    return s;
  }

  /** All keys of an object spec, its includes merged in. */
  private objectKeys(spec: ObjectSpec, path: string): Map<string, Spec> {
    const keys = new Map<string, Spec>();
    for (const name of spec.include ?? []) {
      const inc = this.resolve({ ref: name }, path);
      if (inc !== undefined && typeof inc === "object" && !("enum" in inc) && !("items" in inc)) {
        for (const [k, v] of this.objectKeys(inc as ObjectSpec, path)) keys.set(k, v);
      }
    }
    for (const [k, v] of Object.entries(spec.keys ?? {})) keys.set(k, v);
    return keys;
  }

  check(value: unknown, spec: Spec, path: string): void {
    const s = this.resolve(spec, path);
    if (s === undefined) return;
    if (typeof s === "string") {
      this.checkLeaf(value, s, path);
      return;
    }
    if ("enum" in s) {
      if (typeof value === "string" && (s.enum.includes(value) || ENV_REF.test(value))) return;
      this.problem(path, `must be one of ${s.enum.join(", ")} (got ${JSON.stringify(value)})`);
      return;
    }
    if ("items" in s) {
      if (!Array.isArray(value)) {
        this.problem(path, "must be a list");
        return;
      }
      value.forEach((item, i) => this.check(item, s.items, `${path}[${i}]`));
      return;
    }
    // An object. A key present with no value (`grpc:`) means "on, with defaults".
    if (value === null || value === undefined) return;
    if (!isObject(value)) {
      this.problem(path, "must be a mapping");
      return;
    }
    const keys = this.objectKeys(s as ObjectSpec, path);
    for (const [k, v] of Object.entries(value)) {
      const sub = keys.get(k);
      if (sub === undefined) {
        this.problem(
          `${path}.${k}`,
          `unknown key "${k}" (known here: ${[...keys.keys()].sort().join(", ")})`,
        );
        continue;
      }
      this.check(v, sub, `${path}.${k}`);
    }
  }

  private checkLeaf(value: unknown, type: LeafType, path: string): void {
    if (typeof value === "string" && ENV_REF.test(value)) return;
    const fail = (what: string) => this.problem(path, `must be ${what} (got ${JSON.stringify(value)})`);
    switch (type) {
      case "any":
        return;
      case "string":
        if (typeof value !== "string") fail("a string");
        return;
      case "int":
        if (!Number.isInteger(value)) fail("an integer");
        return;
      case "number":
        if (typeof value !== "number") fail("a number");
        return;
      case "bool":
        if (typeof value !== "boolean") fail("true or false");
        return;
      case "duration":
        if (!(typeof value === "string" && DURATION.test(value)) && value !== 0) fail("a duration like 5s");
        return;
      case "map":
        if (!isObject(value) || Object.values(value).some((v) => isObject(v) || Array.isArray(v))) {
          fail("a mapping of scalars");
        }
        return;
      case "component_id":
        if (typeof value !== "string" || !ID.test(value)) fail("a component id");
        else this.idRefs.push({ path, id: value });
        return;
      case "pipeline_id":
        if (typeof value !== "string" || !ID.test(value)) fail("a pipeline id");
        else this.pipelineRefs.push({ path, id: value });
        return;
      case "prometheus_config":
        if (!isObject(value)) fail("a Prometheus configuration");
        else this.prometheusConfigs.set(this.currentComponent, value);
        return;
      default: {
        // Lists of a leaf type.
        const itemType = type.slice(0, -2) as LeafType;
        if (!Array.isArray(value)) {
          fail("a list");
          return;
        }
        value.forEach((item, i) => this.checkLeaf(item, itemType, `${path}[${i}]`));
      }
    }
  }

  checkComponent(kind: Kind, id: string, value: unknown): ComponentSpec | undefined {
    const path = `${kind}.${id}`;
    if (!ID.test(id)) {
      this.problem(path, "is not a valid component id (type[/name], lower_snake_case type)");
      return undefined;
    }
    const type = componentType(id);
    const alias = this.manifest.deprecated_aliases[kind]?.[type];
    if (alias !== undefined) {
      this.problem(path, `"${type}" is a deprecated alias in ${this.manifest.version}; use "${alias}"`);
      return undefined;
    }
    const spec = this.manifest[kind][type];
    if (spec === undefined) {
      this.problem(
        path,
        `unknown ${kind.slice(0, -1)} type "${type}" (not in the ${this.manifest.version} manifest)`,
      );
      return undefined;
    }
    this.currentComponent = id;
    this.check(value, spec.config, path);
    return spec;
  }
}

function list(value: unknown, path: string, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    problems.push(`${path}: must be a list of component ids`);
    return [];
  }
  return value as string[];
}

/**
 * Checks one parsed Collector configuration: component types and keys against the manifest, and
 * the service graph (every pipeline reference defined, every defined component used, connectors
 * used on both sides, extensions enabled where they are referenced, signals supported).
 */
export function checkCollectorConfig(config: unknown, manifest: Manifest): CheckResult {
  const checker = new Checker(manifest);
  const problems = checker.problems;
  if (!isObject(config)) {
    problems.push("(root): must be a mapping");
    return { problems, prometheusConfigs: checker.prometheusConfigs };
  }
  for (const key of Object.keys(config)) {
    if (!(KINDS as readonly string[]).includes(key) && key !== "service") {
      problems.push(`${key}: unknown top-level key`);
    }
  }

  const defined = new Map<Kind, Map<string, ComponentSpec | undefined>>();
  for (const kind of KINDS) {
    const section = config[kind];
    const ids = new Map<string, ComponentSpec | undefined>();
    if (section !== undefined && section !== null) {
      if (!isObject(section)) problems.push(`${kind}: must be a mapping`);
      else
        for (const [id, value] of Object.entries(section))
          ids.set(id, checker.checkComponent(kind, id, value));
    }
    defined.set(kind, ids);
  }
  const defs = (kind: Kind) => defined.get(kind) ?? new Map<string, ComponentSpec | undefined>();

  const service = config.service;
  if (!isObject(service)) {
    problems.push("service: missing");
    return { problems, prometheusConfigs: checker.prometheusConfigs };
  }
  checker.check(service, manifest.service, "service");

  // Extensions: enabled ones must be defined; defined ones must be enabled.
  const enabledExtensions = list(service.extensions, "service.extensions", problems);
  for (const id of enabledExtensions) {
    if (!defs("extensions").has(id))
      problems.push(`service.extensions: "${id}" is not defined under extensions`);
  }
  for (const id of defs("extensions").keys()) {
    if (!enabledExtensions.includes(id))
      problems.push(`extensions.${id}: defined but not in service.extensions`);
  }
  // Authenticators and storages named in component configs must be enabled extensions.
  for (const ref of checker.idRefs) {
    if (ref.path.startsWith("service.")) continue;
    if (!enabledExtensions.includes(ref.id)) {
      problems.push(`${ref.path}: "${ref.id}" is not an extension listed in service.extensions`);
    }
  }

  const pipelines = service.pipelines;
  if (!isObject(pipelines) || Object.keys(pipelines).length === 0) {
    problems.push("service.pipelines: missing or empty");
    return { problems, prometheusConfigs: checker.prometheusConfigs };
  }
  const used: Record<Kind, Set<string>> = {
    receivers: new Set(),
    processors: new Set(),
    exporters: new Set(),
    connectors: new Set(),
    extensions: new Set(enabledExtensions),
  };
  const connectorAsExporter = new Map<string, string[]>();
  const connectorAsReceiver = new Map<string, string[]>();

  for (const [pid, pipeline] of Object.entries(pipelines)) {
    const ppath = `service.pipelines.${pid}`;
    const signal = componentType(pid);
    if (!(SIGNALS as readonly string[]).includes(signal) || !ID.test(pid)) {
      problems.push(`${ppath}: pipeline id must be traces|metrics|logs[/name]`);
      continue;
    }
    if (!isObject(pipeline)) {
      problems.push(`${ppath}: must be a mapping`);
      continue;
    }
    for (const key of Object.keys(pipeline)) {
      if (!["receivers", "processors", "exporters"].includes(key))
        problems.push(`${ppath}.${key}: unknown key`);
    }
    const receivers = list(pipeline.receivers, `${ppath}.receivers`, problems);
    const processors = list(pipeline.processors, `${ppath}.processors`, problems);
    const exporters = list(pipeline.exporters, `${ppath}.exporters`, problems);
    if (receivers.length === 0) problems.push(`${ppath}.receivers: a pipeline needs at least one receiver`);
    if (exporters.length === 0) problems.push(`${ppath}.exporters: a pipeline needs at least one exporter`);

    const use = (role: "receivers" | "processors" | "exporters", id: string) => {
      const where = `${ppath}.${role}`;
      const asConnector = role !== "processors" && defs("connectors").has(id);
      const kind: Kind = asConnector ? "connectors" : role;
      if (!defs(kind).has(id)) {
        problems.push(
          `${where}: "${id}" is not defined under ${role}${role === "processors" ? "" : " or connectors"}`,
        );
        return;
      }
      used[kind].add(id);
      const spec = defs(kind).get(id);
      if (spec?.signals && !(spec.signals as readonly string[]).includes(signal)) {
        problems.push(`${where}: "${id}" does not support ${signal}`);
      }
      if (asConnector) {
        const map = role === "exporters" ? connectorAsExporter : connectorAsReceiver;
        map.set(id, [...(map.get(id) ?? []), pid]);
      }
    };
    receivers.forEach((id) => use("receivers", id));
    processors.forEach((id) => use("processors", id));
    exporters.forEach((id) => use("exporters", id));
  }

  for (const kind of KINDS) {
    if (kind === "extensions") continue;
    for (const id of defs(kind).keys()) {
      if (!used[kind].has(id)) problems.push(`${kind}.${id}: defined but used by no pipeline`);
    }
  }
  for (const id of defs("connectors").keys()) {
    const into = connectorAsExporter.get(id) ?? [];
    const outOf = connectorAsReceiver.get(id) ?? [];
    if (into.length === 0) problems.push(`connectors.${id}: not an exporter of any pipeline`);
    if (outOf.length === 0) problems.push(`connectors.${id}: not a receiver of any pipeline`);
    if (defs("connectors").get(id)?.same_signal) {
      for (const p of [...into, ...outOf]) {
        if (componentType(p) !== componentType(into[0] ?? p)) {
          problems.push(`connectors.${id}: links pipelines of different signals (${p})`);
        }
      }
    }
  }
  // Pipelines named inside connector configs (routing tables) must exist and take that connector.
  for (const ref of checker.pipelineRefs) {
    const connector = /^connectors\.([^.[]+)/.exec(ref.path)?.[1];
    if (!(ref.id in pipelines)) {
      problems.push(`${ref.path}: pipeline "${ref.id}" is not defined`);
    } else if (connector !== undefined && !(connectorAsReceiver.get(connector) ?? []).includes(ref.id)) {
      problems.push(`${ref.path}: pipeline "${ref.id}" does not list ${connector} as a receiver`);
    }
  }
  return { problems, prometheusConfigs: checker.prometheusConfigs };
}
