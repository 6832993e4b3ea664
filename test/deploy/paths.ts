import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (test/deploy/../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The pinned Collector version, from the one manifest `collector-config/components-<version>.json`.
 * The compose image, the docs and the config headers are checked against it.
 */
export const COLLECTOR_VERSION: string = (() => {
  const manifests = readdirSync(join(REPO_ROOT, "collector-config"))
    .map((f) => /^components-(\d+\.\d+\.\d+)\.json$/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined);
  if (manifests.length !== 1) {
    throw new Error(
      `expected exactly one collector-config/components-<version>.json, found ${manifests.length}`,
    );
  }
  return manifests[0]!;
})();

/**
 * A parsed YAML or JSON tree that a test walks or edits freely. Tests assert on its shape, so the
 * loose type stays inside test code.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Tree = any;
