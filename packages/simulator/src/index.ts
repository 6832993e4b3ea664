export { ATTACKS, AttackClient, baseline } from "./attacks.ts";
export type { Attack, Reply } from "./attacks.ts";
export { findAttacks, simulate, startInProcessService } from "./simulate.ts";
export type {
  AttackRun,
  ExportCounts,
  InProcessService,
  InProcessServiceOptions,
  SimulationOptions,
} from "./simulate.ts";
export { simulateCli } from "./simulate-cli.ts";
export type { SimulateCliOptions } from "./simulate-cli.ts";
