#!/usr/bin/env node
// Runs the built CLI (dist/, made by `pnpm build`); in the repository, `pnpm simulate` runs the sources.
import { simulateCli } from "../dist/simulate-cli.js";

process.exitCode = await simulateCli(process.argv.slice(2));
