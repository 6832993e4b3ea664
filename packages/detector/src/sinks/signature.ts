import { createHmac, timingSafeEqual } from "node:crypto";

/** Receivers reject signatures older (or further in the future) than this (alerts.md). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export const DELIVERY_HEADER = "x-secmon-delivery";
export const SIGNATURE_HEADER = "x-secmon-signature";

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export function signBody(secret: string, rawBody: string | Uint8Array, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmacHex(secret, t, rawBody)}`;
}

/**
 * Checks an `X-Secmon-Signature` header for receivers: the HMAC over `"<t>.<raw body>"` must
 * match one of the `v1` values (constant-time compare) and `t` must be within
 * `toleranceSeconds` of `nowMs`. Pass the raw request bytes, not re-serialised JSON.
 *
 * ```ts
 * if (!verifySignature(secret, req.headers["x-secmon-signature"], rawBody, Date.now())) reject(401);
 * ```
 */
export function verifySignature(
  secret: string,
  header: string | undefined | null,
  rawBody: string | Uint8Array,
  nowMs: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  if (!header || !secret) return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, t, rawBody), "hex");
  return candidates.some((c) => timingSafeEqual(Buffer.from(c, "hex"), expected));
}

function hmacHex(secret: string, t: number, rawBody: string | Uint8Array): string {
  return createHmac("sha256", secret).update(`${t}.`).update(rawBody).digest("hex");
}
