/** Public API of @secmon/detector (named exports only). */
export { Detector, createLogger } from "./main.ts";
export type { DetectorAddresses, DetectorOptions } from "./main.ts";
export { loadConfig, parseConfigText, validateConfig, formatProblems } from "./config/load.ts";
export type { ConfigProblem } from "./config/load.ts";
export { configSchema } from "./config/schema.ts";
export type { Config } from "./config/schema.ts";
export { METRIC_CATALOG } from "./metrics/catalog.ts";
export type { MetricSpec } from "./metrics/catalog.ts";
export { ERROR_CODES, SecmonError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export { REJECT_REASONS } from "./event.ts";
export type { SecurityEvent, RejectReason } from "./event.ts";
export type { Alert, AlertChange, Firing, Indicator, ResponseRequest, SampleEvent } from "./alerts/types.ts";
export { verifySignature } from "./sinks/signature.ts";
export { cli, main } from "./cli/main.ts";
export { replay } from "./cli/replay.ts";
