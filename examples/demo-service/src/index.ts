export { createDemoApp } from "./app.ts";
export type { DemoApp, DemoAppOptions, DemoServer } from "./app.ts";
export { startTelemetry } from "./telemetry.ts";
export { totp, verifyTotp } from "./totp.ts";
export { DEMO_USERS } from "./users.ts";
export type { DemoUserSeed, Role } from "./users.ts";
export { attackRule } from "./validation.ts";
