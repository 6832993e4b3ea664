#!/usr/bin/env node
// Runs the built CLI (dist/, made by `pnpm build`); in the repository, `pnpm detector` runs the sources.
import { main } from "../dist/cli/main.js";

await main();
