import { createHmac } from "node:crypto";
import { RESOURCE_ATTR } from "@secmon/semconv";
import { InstrumentationConfigError } from "./errors.ts";

/** Environment variable holding the hash secret when the `hashSecret` option is not given. */
export const HASH_SECRET_ENV = "SECMON_HASH_SECRET";

/** Minimum length of a hash secret, in bytes. */
export const MIN_HASH_SECRET_BYTES = 16;

/**
 * The key used in development and test when no secret is configured. It is public, so hashes
 * made with it are not pseudonymous: it exists only so that a developer can start without setup.
 */
export const DEVELOPMENT_HASH_KEY = "secmon-INSECURE-development-key-do-not-use-in-production";

/** Environments that may run without a hash secret. */
export const DEVELOPMENT_ENVIRONMENTS: ReadonlySet<string> = new Set([
  "development",
  "dev",
  "local",
  "test",
  "testing",
]);

const HASH_HEX_CHARS = 32;

/**
 * `user.hash` as the spec defines it: lowercase hex HMAC-SHA256 of the trimmed, lower-cased
 * identifier, keyed with the operator's secret, first 32 hex characters.
 */
export function hashIdentifier(secret: string | Uint8Array, identifier: string): string {
  return createHmac("sha256", secret)
    .update(identifier.trim().toLowerCase(), "utf8")
    .digest("hex")
    .slice(0, HASH_HEX_CHARS);
}

/**
 * `session.id`: lowercase hex HMAC-SHA256 of the raw session identifier (not trimmed or
 * lower-cased: session tokens are case-sensitive), same key, first 32 hex characters.
 */
export function hashSessionId(secret: string | Uint8Array, sessionId: string): string {
  return createHmac("sha256", secret).update(sessionId, "utf8").digest("hex").slice(0, HASH_HEX_CHARS);
}

export interface ResolvedHashKey {
  readonly key: Buffer;
  /** True when the public development key is in use. */
  readonly development: boolean;
  /** The environment the decision was based on, for messages. */
  readonly environment: string;
}

/** Reads `deployment.environment.name` out of `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k=v`, values URL-encoded). */
function environmentFromResourceAttributes(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const pair of value.split(",")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== RESOURCE_ATTR.DEPLOYMENT_ENVIRONMENT_NAME) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return pair.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/**
 * The environment to decide on: the explicit option when given; otherwise NODE_ENV and
 * `deployment.environment.name`. When both are set and disagree, the one that is not a development
 * environment wins, so that a stray NODE_ENV=development cannot unlock the development key in
 * production. Nothing set means production.
 */
export function resolveEnvironment(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (explicit !== undefined && explicit.trim() !== "") return explicit.trim().toLowerCase();
  const candidates = [env["NODE_ENV"], environmentFromResourceAttributes(env["OTEL_RESOURCE_ATTRIBUTES"])]
    .map((value) => value?.trim().toLowerCase())
    .filter((value): value is string => value !== undefined && value !== "");
  if (candidates.length === 0) return "production";
  return candidates.find((value) => !DEVELOPMENT_ENVIRONMENTS.has(value)) ?? (candidates[0] as string);
}

/** The `hashSecret` option when it is set (empty counts as not set), or a configuration error. */
function secretOption(secret: unknown): string | Uint8Array | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret === "string" || secret instanceof Uint8Array)
    return secret.length === 0 ? undefined : secret;
  const kind =
    secret === null
      ? "null"
      : Array.isArray(secret)
        ? "an array"
        : typeof secret === "object"
          ? "an object"
          : `a ${typeof secret}`;
  throw new InstrumentationConfigError(
    "HASH_SECRET_INVALID",
    `@secmon/instrumentation: the \`hashSecret\` option of createSecurityEvents() is ${kind}; it must be a ` +
      `string or a Uint8Array (Buffer) of at least ${MIN_HASH_SECRET_BYTES} random bytes, or left out to use ` +
      `the ${HASH_SECRET_ENV} environment variable.`,
  );
}

/**
 * Picks the HMAC key, or throws a configuration error that says exactly what to set. An empty
 * `hashSecret` or SECMON_HASH_SECRET counts as not set, the same for both.
 */
export function resolveHashKey(
  secret: string | Uint8Array | undefined,
  explicitEnvironment: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedHashKey {
  const environment = resolveEnvironment(explicitEnvironment, env);
  const fromEnv = env[HASH_SECRET_ENV];
  const configured = secretOption(secret) ?? (fromEnv === "" ? undefined : fromEnv);
  if (configured === undefined) {
    if (DEVELOPMENT_ENVIRONMENTS.has(environment)) {
      return { key: Buffer.from(DEVELOPMENT_HASH_KEY, "utf8"), development: true, environment };
    }
    throw new InstrumentationConfigError(
      "HASH_SECRET_MISSING",
      `@secmon/instrumentation: no hash secret in environment "${environment}". ` +
        `Pass the \`hashSecret\` option to createSecurityEvents() or set the ${HASH_SECRET_ENV} environment ` +
        `variable to at least ${MIN_HASH_SECRET_BYTES} random bytes (e.g. \`openssl rand -hex 32\`). ` +
        `Only the environments ${[...DEVELOPMENT_ENVIRONMENTS].join(", ")} (option \`environment\`, NODE_ENV or ` +
        `${RESOURCE_ATTR.DEPLOYMENT_ENVIRONMENT_NAME}) may run without one.`,
    );
  }
  const key = typeof configured === "string" ? Buffer.from(configured, "utf8") : Buffer.from(configured);
  if (key.length < MIN_HASH_SECRET_BYTES) {
    throw new InstrumentationConfigError(
      "HASH_SECRET_TOO_SHORT",
      `@secmon/instrumentation: the hash secret (option \`hashSecret\` or ${HASH_SECRET_ENV}) is ${key.length} ` +
        `bytes long; use at least ${MIN_HASH_SECRET_BYTES} random bytes (e.g. \`openssl rand -hex 32\`).`,
    );
  }
  return { key, development: false, environment };
}
