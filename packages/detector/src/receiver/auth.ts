import { createHash, timingSafeEqual } from "node:crypto";

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Bearer-token check. Both sides are hashed before the constant-time compare, so neither the
 * token's content nor its length leaks through timing.
 */
export class BearerAuth {
  readonly #expected: Buffer;

  constructor(token: string) {
    this.#expected = digest(token);
  }

  /** True when `authorization` is `Bearer <token>` with the configured token. */
  check(authorization: string | undefined): boolean {
    const m = authorization === undefined ? null : BEARER.exec(authorization);
    // Hash something either way, so a missing header costs what a wrong one does.
    const given = digest(m?.[1] ?? "");
    return timingSafeEqual(given, this.#expected) && m !== null;
  }
}
