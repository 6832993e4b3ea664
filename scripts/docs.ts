/**
 * Writes the generated reference docs. `pnpm docs` rewrites them; `pnpm docs --check` fails
 * when a committed doc differs from what the code generates (run by the test command).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GENERATED_DOCS } from "../packages/detector/src/docs.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");
let stale = 0;
for (const [file, render] of Object.entries(GENERATED_DOCS)) {
  const path = `${root}${file}`;
  const want = render();
  let have = "";
  try {
    have = readFileSync(path, "utf8");
  } catch {
    // missing: stale
  }
  if (have === want) continue;
  if (check) {
    console.error(`${file} is out of date: run \`pnpm docs\``);
    stale++;
  } else {
    writeFileSync(path, want);
    console.log(`wrote ${file}`);
  }
}
process.exit(stale > 0 ? 1 : 0);
