import { readFileSync } from "node:fs";
import { z } from "zod";
import { SecmonError } from "../errors.ts";

const FORMS = "{ env: NAME } (read from an environment variable) or { file: PATH } (read from a file)";

/** Why a value is not a secret reference: the message of every config key that holds a secret. */
function secretRefProblem(input: unknown): string {
  if (typeof input === "string" || typeof input === "number") {
    return `a secret is never written inline; write ${FORMS}`;
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) return `must be ${FORMS}`;
  const keys = Object.keys(input);
  if (keys.length !== 1) {
    return `needs exactly one of the keys env and file (${keys.length === 0 ? "none" : keys.join(", ")} given): ${FORMS}`;
  }
  const key = keys[0]!;
  if (key !== "env" && key !== "file") return `unknown key ${key}: must be ${FORMS}`;
  return `${key} must be a string: ${FORMS}`;
}

/**
 * A secret in the configuration is never written inline: it names an environment variable or a
 * file. Resolution happens once at load time; the resolved value is never logged.
 */
export const secretRefSchema = z
  .union(
    [
      z.strictObject({
        env: z
          .string()
          .min(1, "must not be empty")
          .describe("Name of the environment variable holding the secret"),
      }),
      z.strictObject({
        file: z
          .string()
          .min(1, "must not be empty")
          .describe("Path of a file holding the secret (trailing newline trimmed)"),
      }),
    ],
    { error: (issue) => secretRefProblem(issue.input) },
  )
  .describe("A secret: `{ env: NAME }` or `{ file: PATH }`; never inline");

export type SecretRef = z.infer<typeof secretRefSchema>;

/** Reads a secret; throws CONFIG_SECRET_MISSING naming the variable or file (never the value). */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ("env" in ref) {
    const value = env[ref.env];
    if (value === undefined || value === "") {
      throw new SecmonError("CONFIG_SECRET_MISSING", `environment variable ${ref.env} is not set`);
    }
    return value;
  }
  let text: string;
  try {
    text = readFileSync(ref.file, "utf8");
  } catch (err) {
    throw new SecmonError("CONFIG_SECRET_MISSING", `cannot read secret file ${ref.file}`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, "");
  if (value === "") throw new SecmonError("CONFIG_SECRET_MISSING", `secret file ${ref.file} is empty`);
  return value;
}
