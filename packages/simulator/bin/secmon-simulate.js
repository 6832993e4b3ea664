#!/usr/bin/env node
// Runs the TypeScript sources directly (Node ≥ 22.18 strips types); workspace packages resolve to
// their sources through the @secmon/source export condition.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("../src/simulate-cli.ts", import.meta.url));
const r = spawnSync(process.execPath, ["--conditions=@secmon/source", entry, ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exitCode = r.status ?? 1;
