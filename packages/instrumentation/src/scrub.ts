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

// Characters that decide which patterns of `looksLikeSecret` can match at all, one bit each.
const C_COLON = 1;
const C_PAIRS = 2; // '=' or '%' (an encoded '=')
const C_SPACE = 4;
const C_AT = 8;
const C_E = 16;
const C_DASH = 32;
const C_UNDERSCORE = 64;
const C_UPPER_A = 128;
const C_X = 256;
/** `;` (path parameters): only `cleanPath` cares. */
const C_SEMICOLON = 512;
/** `?` and `#`: where a path ends. */
const C_PATH_END = 1024;

/** Bits per ASCII character; other characters have none. */
const CHAR_CLASS = new Uint16Array(128);
CHAR_CLASS[58] = C_COLON; // :
CHAR_CLASS[61] = C_PAIRS; // =
CHAR_CLASS[37] = C_PAIRS; // %
for (const c of [32, 9, 10, 13]) CHAR_CLASS[c] = C_SPACE;
CHAR_CLASS[64] = C_AT; // @
CHAR_CLASS[101] = C_E; // e
CHAR_CLASS[45] = C_DASH; // -
CHAR_CLASS[95] = C_UNDERSCORE; // _
CHAR_CLASS[65] = C_UPPER_A; // A
CHAR_CLASS[120] = C_X; // x
CHAR_CLASS[59] = C_SEMICOLON; // ;
CHAR_CLASS[63] = C_PATH_END; // ?
CHAR_CLASS[35] = C_PATH_END; // #

/** The patterns that the character classes of `value` (`classes`) allow, tested. */
function secretByClasses(value: string, classes: number): boolean {
  const has = (bits: number) => (classes & bits) === bits;
  if ((classes & (C_COLON | C_PAIRS)) !== 0 && KEY_VALUE.test(value)) return true;
  if (has(C_COLON | C_AT) && URL_CREDENTIALS.test(value)) return true;
  if (has(C_E) && value.includes("eyJ") && JWT.test(value)) return true;
  if (has(C_SPACE) && (AUTH_SCHEME.test(value) || (has(C_DASH) && PRIVATE_KEY.test(value)))) return true;
  if (value.length < 14) return false;
  const tokenShaped = (classes & (C_UNDERSCORE | C_UPPER_A)) !== 0 || has(C_X | C_DASH);
  return tokenShaped && TOKEN_FORMAT.test(value);
}

/**
 * True when the value looks like a credential or carries one (see the module comment). One pass
 * over the characters (a table lookup each) decides which patterns can match at all, so the
 * common case (a path, an id, a User-Agent) runs no regular expression.
 */
export function looksLikeSecret(value: string): boolean {
  let classes = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 128) classes |= CHAR_CLASS[c]!;
  }
  return secretByClasses(value, classes);
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
 * templates), optionally refusing values that fail `accept` (remembered too). The memo lives in
 * the process only; it is cleared when full.
 */
export class CleanTextCache {
  readonly #maxLength: number;
  readonly #accept: ((value: string) => boolean) | undefined;
  readonly #limit: number;
  readonly #memo = new Map<string, string | null>();

  constructor(maxLength: number, accept?: (value: string) => boolean, limit = 512) {
    this.#maxLength = maxLength;
    this.#accept = accept;
    this.#limit = limit;
  }

  get(value: unknown): string | undefined {
    if (typeof value !== "string" || value === "") return undefined;
    const known = this.#memo.get(value);
    if (known !== undefined) return known ?? undefined;
    const cleaned =
      this.#accept === undefined || this.#accept(value) ? cleanText(value, this.#maxLength) : undefined;
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
  let classes = 0;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) continue;
    const bits = CHAR_CLASS[c]!;
    if (bits & C_PATH_END) {
      end = i;
      break;
    }
    classes |= bits;
  }
  const path = end === value.length ? value : value.slice(0, end);
  // '=', ';' or '%' (parameters or encoded characters in a segment) always take the slow way
  if ((classes & (C_PAIRS | C_SEMICOLON)) === 0 && !secretByClasses(path, classes)) return path;
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
