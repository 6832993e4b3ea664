/**
 * Keeps secrets in the process. Two tests, used everywhere a caller's string can reach an
 * attribute: `isSecretKey` (a key that names a credential) and `looksLikeSecret` (a value shaped
 * like one: bearer and basic credentials, JWTs, `password=…` pairs, credentials in URLs, private
 * keys, well-known token formats). Metadata is walked with bounds on depth, size and work, is
 * cycle-safe, and is flattened into primitive or homogeneous-array attributes.
 */
import type { AnyValue } from "@opentelemetry/api-logs";
import { METADATA_ATTR_PREFIX } from "@secmon/semconv";

/** Bounds of the metadata walk. */
export const SCRUB_LIMITS = {
  /** Nesting levels below the metadata object that are still read. */
  maxDepth: 6,
  /** Attributes produced from one metadata object. */
  maxAttributes: 64,
  /** Values visited in one metadata object (bounds the work on huge inputs). */
  maxVisited: 512,
  /** Elements kept from one array. */
  maxArrayLength: 64,
  /** Characters kept from one string value. */
  maxStringLength: 512,
  /** Characters kept from one key segment. */
  maxKeyLength: 64,
} as const;

/** Whole words (after splitting camelCase and separators) that name a credential. */
const SECRET_KEY_WORDS: ReadonlySet<string> = new Set([
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "passcode",
  "pin",
  "secret",
  "secrets",
  "token",
  "tokens",
  "authorization",
  "auth",
  "cookie",
  "cookies",
  "otp",
  "totp",
  "hotp",
  "apikey",
  "jwt",
  "bearer",
  "credential",
  "credentials",
  "cvv",
  "cvc",
  "sid",
]);

/** Fragments that name a credential anywhere in the key once separators are removed. */
const SECRET_KEY_FRAGMENTS: readonly string[] = [
  "password",
  "passwd",
  "passphrase",
  "passcode",
  "secret",
  "token",
  "authorization",
  "cookie",
  "apikey",
  "onetimecode",
  "onetimepassword",
  "onetimepin",
  "privatekey",
  "accesskey",
  "credential",
  "bearer",
  "sessionid",
  "jwt",
];

const keyCache = new Map<string, boolean>();
const KEY_CACHE_LIMIT = 2048;

/**
 * True when the key names a credential, in any case and with any separator: `password`,
 * `apiKey`, `API_KEY`, `x-api-key`, `Authorization`, `set-cookie`, `otp`, `one_time_code`,
 * `passcode`, `accessToken`, `client_secret` …
 */
export function isSecretKey(key: string): boolean {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
  const joined = words.join("");
  const secret =
    words.some((w) => SECRET_KEY_WORDS.has(w)) || SECRET_KEY_FRAGMENTS.some((f) => joined.includes(f));
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
  keyCache.set(key, secret);
  return secret;
}

const SECRET_NAME =
  "(?:pass(?:word|wd|phrase|code)?|pwd|secret|token|api[-_ ]?key|authorization|cookie|otp|" +
  "one[-_ ]?time[-_ ]?(?:code|password|pin)|session[-_ ]?id|sid|access[-_ ]?key|private[-_ ]?key|" +
  "client[-_ ]?secret|credentials?)";

/** `password=…`, `"token": …`, `x-api-key: …`, also with a URL-encoded `=`. */
const KEY_VALUE = new RegExp(SECRET_NAME + String.raw`["']?\s*(?:[:=]|%3d)`, "i");
/** Authorization header values. */
const AUTH_SCHEME =
  /\b(?:bearer\s+[\w~+/.=-]{6,}|basic\s+[a-z0-9+/]{6,}|(?:token|digest|negotiate|apikey)\s+[\w~+/.=-]{16,})/i;
/** JWT / JWS / JWE compact form. */
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\./;
/** Credentials in a URL: scheme://user:password@host. */
const URL_CREDENTIALS = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:[^\s/@]+@/i;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** Well-known token formats (GitHub, Slack, Stripe, AWS, Google). */
const TOKEN_FORMAT =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|[rs]k_(?:live|test)_[A-Za-z0-9]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{30,})/;

/**
 * True when the value looks like a credential or carries one (see the module comment). One pass
 * over the characters decides which patterns can match at all, so the common case (a path, an id,
 * a User-Agent) runs no regular expression.
 */
export function looksLikeSecret(value: string): boolean {
  let colon = false;
  let pairs = false; // '=' or '%' (an encoded '=')
  let space = false;
  let at = false;
  let e = false;
  let dash = false;
  let underscore = false;
  let upperA = false;
  let x = false;
  for (let i = 0; i < value.length; i++) {
    switch (value.charCodeAt(i)) {
      case 58: // :
        colon = true;
        break;
      case 61: // =
      case 37: // %
        pairs = true;
        break;
      case 32: // space
      case 9: // tab
      case 10: // newline
      case 13:
        space = true;
        break;
      case 64: // @
        at = true;
        break;
      case 101: // e
        e = true;
        break;
      case 45: // -
        dash = true;
        break;
      case 95: // _
        underscore = true;
        break;
      case 65: // A
        upperA = true;
        break;
      case 120: // x
        x = true;
        break;
    }
  }
  if ((colon || pairs) && KEY_VALUE.test(value)) return true;
  if (colon && at && URL_CREDENTIALS.test(value)) return true;
  if (e && value.includes("eyJ") && JWT.test(value)) return true;
  if (space && (AUTH_SCHEME.test(value) || (dash && PRIVATE_KEY.test(value)))) return true;
  if (value.length < 14) return false;
  return (underscore || (x && dash) || upperA) && TOKEN_FORMAT.test(value);
}

/**
 * A caller's free-form string, made safe to send: empty or non-strings give undefined, a value
 * that looks like a secret gives undefined, long values are cut to `maxLength` (the scan looks a
 * little past the cut so that a secret straddling it is still caught).
 */
export function cleanText(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const scanned = value.length > maxLength + 256 ? value.slice(0, maxLength + 256) : value;
  if (looksLikeSecret(scanned)) return undefined;
  return value.length > maxLength ? value.slice(0, maxLength) : value;
}

/**
 * `cleanText` with a bounded memo, for values that repeat across requests (User-Agents, route
 * templates). The memo lives in the process only; it is cleared when full.
 */
export class CleanTextCache {
  readonly #maxLength: number;
  readonly #limit: number;
  readonly #memo = new Map<string, string | null>();

  constructor(maxLength: number, limit = 512) {
    this.#maxLength = maxLength;
    this.#limit = limit;
  }

  get(value: unknown): string | undefined {
    if (typeof value !== "string" || value === "") return undefined;
    const known = this.#memo.get(value);
    if (known !== undefined) return known ?? undefined;
    const cleaned = cleanText(value, this.#maxLength);
    if (value.length <= 2048) {
      if (this.#memo.size >= this.#limit) this.#memo.clear();
      this.#memo.set(value, cleaned ?? null);
    }
    return cleaned;
  }
}

export const REDACTED_SEGMENT = "[redacted]";

/**
 * A URL path made safe to send: query string and fragment removed, segments that look like
 * secrets (`/reset/eyJ…`, `/x;jsessionid=…`) replaced by `[redacted]`, length bounded. Returns
 * undefined for values that are not paths.
 */
export function cleanPath(value: unknown, maxLength = 1024): string | undefined {
  if (typeof value !== "string" || value.charCodeAt(0) !== 47 /* / */) return undefined;
  let end = Math.min(value.length, maxLength);
  let suspect = false; // '=', ';' or '%': parameters or encoded characters in a segment
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
    if (c === 61 || c === 59 || c === 37) suspect = true;
  }
  const path = end === value.length ? value : value.slice(0, end);
  if (!suspect && !looksLikeSecret(path)) return path;
  return path
    .split("/")
    .map((segment) => {
      const semi = segment.indexOf(";");
      const head = semi >= 0 ? segment.slice(0, semi) : segment;
      if (looksLikeSecret(head) || head.includes("=") || /%3d/i.test(head)) return REDACTED_SEGMENT;
      return semi >= 0 ? head : segment;
    })
    .join("/");
}

interface FlattenState {
  readonly out: Record<string, AnyValue>;
  readonly prefix: string;
  readonly stack: object[];
  count: number;
  visited: number;
}

function safeKeySegment(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_-]/g, "_");
  return cleaned.length > SCRUB_LIMITS.maxKeyLength ? cleaned.slice(0, SCRUB_LIMITS.maxKeyLength) : cleaned;
}

function put(state: FlattenState, path: string, value: AnyValue): void {
  if (state.count >= SCRUB_LIMITS.maxAttributes || path === "") return;
  state.out[state.prefix + path] = value;
  state.count++;
}

function walkArray(value: readonly unknown[], path: string, depth: number, state: FlattenState): void {
  const length = Math.min(value.length, SCRUB_LIMITS.maxArrayLength);
  if (length === 0) return;
  const first = typeof value[0];
  let homogeneous = first === "string" || first === "number" || first === "boolean";
  for (let i = 1; homogeneous && i < length; i++) homogeneous = typeof value[i] === first;
  if (homogeneous) {
    state.visited += length;
    if (first === "string") {
      const kept: string[] = [];
      for (let i = 0; i < length; i++) {
        const text = cleanText(value[i], SCRUB_LIMITS.maxStringLength);
        if (text !== undefined) kept.push(text);
      }
      if (kept.length > 0) put(state, path, kept);
    } else if (first === "number") {
      const kept = (value.slice(0, length) as number[]).filter((n) => Number.isFinite(n));
      if (kept.length > 0) put(state, path, kept);
    } else {
      put(state, path, value.slice(0, length) as boolean[]);
    }
    return;
  }
  for (let i = 0; i < length; i++) walk(value[i], path === "" ? String(i) : `${path}.${i}`, depth + 1, state);
}

function walk(value: unknown, path: string, depth: number, state: FlattenState): void {
  if (state.count >= SCRUB_LIMITS.maxAttributes || ++state.visited > SCRUB_LIMITS.maxVisited) return;
  switch (typeof value) {
    case "string": {
      const text = cleanText(value, SCRUB_LIMITS.maxStringLength);
      if (text !== undefined) put(state, path, text);
      return;
    }
    case "number":
      if (Number.isFinite(value)) put(state, path, value);
      return;
    case "boolean":
      put(state, path, value);
      return;
    case "object":
      break;
    default:
      // undefined, bigint, symbol, function: dropped
      return;
  }
  if (value === null) return;
  if (value instanceof Date) {
    if (Number.isFinite(value.getTime())) put(state, path, value.toISOString());
    return;
  }
  if (depth >= SCRUB_LIMITS.maxDepth || state.stack.includes(value)) return;
  // binary data and exotic containers are dropped: they cannot be checked for secrets
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Map ||
    value instanceof Set
  ) {
    return;
  }
  state.stack.push(value);
  try {
    if (Array.isArray(value)) {
      walkArray(value, path, depth, state);
      return;
    }
    for (const key of Object.keys(value)) {
      if (state.count >= SCRUB_LIMITS.maxAttributes || state.visited > SCRUB_LIMITS.maxVisited) return;
      if (isSecretKey(key)) continue;
      let child: unknown;
      try {
        child = (value as Record<string, unknown>)[key];
      } catch {
        continue; // a throwing getter
      }
      const segment = safeKeySegment(key);
      walk(child, path === "" ? segment : `${path}.${segment}`, depth + 1, state);
    }
  } finally {
    state.stack.pop();
  }
}

/**
 * Scrubs `metadata` and writes what survives into `out` as `secmon.metadata.<dotted.path>`:
 * keys naming credentials are dropped with everything under them, string values that look like
 * secrets are dropped, only strings, finite numbers, booleans (and ISO strings for dates) and
 * homogeneous arrays of those survive; other arrays are walked by index. Bounded by
 * {@link SCRUB_LIMITS}; cycles are cut. Returns the number of attributes written.
 */
export function flattenMetadata(
  metadata: unknown,
  out: Record<string, AnyValue>,
  prefix: string = METADATA_ATTR_PREFIX,
): number {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return 0;
  const state: FlattenState = { out, prefix, stack: [], count: 0, visited: 0 };
  walk(metadata, "", 0, state);
  return state.count;
}
