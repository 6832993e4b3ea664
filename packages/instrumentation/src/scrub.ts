/**
 * Keeps secrets in the process. Two tests, used everywhere a caller's string can reach an
 * attribute: `isSecretKey` (a key that names a credential, or is shaped like one) and
 * `looksLikeSecret` (a value shaped like one: bearer, basic and digest credentials, JWTs,
 * `password=…` / `"pw": …` / `?code=…` pairs, cookie headers, user info in URLs, private keys,
 * well-known token formats, long random tokens). Metadata is walked with bounds on depth, size and
 * work, is cycle-safe, and is flattened into primitive or homogeneous-array attributes; on the way,
 * pairs are recognised wherever they hide a secret's name from its value: `rawHeaders`-style
 * arrays, `[name, value]` pairs, `{ name, value }` objects, one-time codes under `code`.
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
  "passwords",
  "passwd",
  "pwd",
  "pwds",
  "pw",
  "pws",
  "pass",
  "passphrase",
  "passphrases",
  "passcode",
  "passcodes",
  "pin",
  "pins",
  "secret",
  "secrets",
  "token",
  "tokens",
  "authorization",
  "auth",
  "cookie",
  "cookies",
  "otp",
  "otps",
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
  "session",
  "sessions",
  "sess",
  "csrf",
  "xsrf",
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
  "signingkey",
  "encryptionkey",
  "masterkey",
  "hmackey",
  "credential",
  "bearer",
  "sessionid",
  "jwt",
  "samlresponse",
  "subscriptionkey",
  "licensekey",
];

/**
 * Words that make a `code` an authentication code: `mfaCode`, `verification_code`, `otp-code`,
 * `smsCode`, `resetCode`, `recoveryCodes`, … (also written as one word: `mfacode`). A bare `code`
 * below a key holding one of them (`mfa: { code }`) is one too. Every other `…code` key
 * (`statusCode`, `countryCode`, `errorCode`, `zipCode`, `promoCode`) is an ordinary key.
 */
const AUTH_CODE_WORDS: ReadonlySet<string> = new Set([
  "mfa",
  "2fa",
  "twofa",
  "tfa",
  "2sv",
  "otp",
  "totp",
  "hotp",
  "otc",
  "sms",
  "email",
  "verification",
  "verify",
  "verifier",
  "confirmation",
  "confirm",
  "auth",
  "authentication",
  "authorization",
  "authorize",
  "login",
  "signin",
  "logon",
  "security",
  "recovery",
  "backup",
  "reset",
  "access",
  "activation",
  "challenge",
  "oauth",
  "grant",
  "device",
  "magic",
  "pass",
  "pin",
  "factor",
  "unlock",
  "invite",
  "invitation",
]);

/**
 * Words of a second-factor context: below a key holding one (`mfa`, `twoFactor`…`2fa`,
 * `verification`), a string or number shaped like a one-time code is dropped whatever its key
 * (`mfa: "123456"`, `verification: { sent: "123 456" }`).
 */
const OTP_CONTEXT_WORDS: ReadonlySet<string> = new Set(["mfa", "2fa", "twofa", "tfa", "2sv", "verification"]);
/** The same, written in several words (`twoFactor`, `second_factor`, `multiFactor`). */
const OTP_CONTEXT_FRAGMENTS: readonly string[] = ["twofactor", "secondfactor", "multifactor"];

/**
 * Words that only measure what a credential word names: a key made of credential words and these
 * (`token_count`, `max_tokens`, `password_min_length`, `session_ttl`) keeps a number value.
 */
const MEASURE_WORDS: ReadonlySet<string> = new Set([
  "count",
  "counts",
  "total",
  "max",
  "min",
  "limit",
  "remaining",
  "used",
  "length",
  "len",
  "size",
  "duration",
  "ttl",
  "age",
  "attempts",
  "tries",
  "retries",
  "failures",
  "seconds",
  "ms",
]);

/** Words that make a `…code` key an ordinary one even next to an {@link AUTH_CODE_WORDS} word. */
const ORDINARY_CODE_WORDS: ReadonlySet<string> = new Set([
  "error",
  "err",
  "status",
  "http",
  "response",
  "exit",
  "reason",
  "country",
  "currency",
  "language",
  "locale",
  "region",
]);

/**
 * The name of a name/value object, any case: `{ name: "password", value: … }`, `{ Key, Value }`,
 * `{ header: "Cookie", … }`, `{ fieldName: "pin", … }`. When it names a credential the whole
 * object is dropped.
 */
const PAIR_NAME_KEYS: ReadonlySet<string> = new Set(["name", "key", "header", "field", "param", "parameter"]);
/** First words of two-word pair names (`headerName`, `fieldName`, `paramKey`, `attributeName`). */
const PAIR_NAME_OWNERS: ReadonlySet<string> = new Set([
  "header",
  "field",
  "param",
  "parameter",
  "query",
  "form",
  "input",
  "attribute",
  "attr",
  "property",
  "prop",
]);
/** Weaker names (`{ type: "password", value: … }`): the object is dropped only if it has a value key. */
const PAIR_WEAK_NAME_KEYS: ReadonlySet<string> = new Set(["type", "label"]);
const PAIR_VALUE_KEYS: ReadonlySet<string> = new Set(["value", "values", "val", "data", "content"]);

/** The word lists the README spells out (its parity test reads them). */
export const SCRUB_WORDS = {
  authCode: AUTH_CODE_WORDS,
  ordinaryCode: ORDINARY_CODE_WORDS,
  otpContext: OTP_CONTEXT_WORDS,
  otpContextFragments: OTP_CONTEXT_FRAGMENTS,
  measure: MEASURE_WORDS,
} as const;

/** The key names a credential: dropped with everything below it. */
const KEY_SECRET = 1;
/** Credential words and measure words only (`token_count`): dropped unless the value is a number. */
const KEY_MEASURE = 2;
/** A bare `code`: dropped below an authentication key or when its value looks like a one-time code. */
const KEY_BARE_CODE = 4;
/** Holds an {@link AUTH_CODE_WORDS} word: a bare `code` anywhere below it is dropped. */
const KEY_AUTH_CONTEXT = 8;
/** Holds an {@link OTP_CONTEXT_WORDS} word: one-time-code shaped values below it are dropped. */
const KEY_OTP_CONTEXT = 128;
/** The name of a name/value object ({@link PAIR_NAME_KEYS}). */
const KEY_PAIR_NAME = 16;
/** {@link PAIR_WEAK_NAME_KEYS}. */
const KEY_PAIR_WEAK_NAME = 32;
/** {@link PAIR_VALUE_KEYS}. */
const KEY_PAIR_VALUE = 64;
const KEY_PAIR_ANY = KEY_PAIR_NAME | KEY_PAIR_WEAK_NAME | KEY_PAIR_VALUE;

const keyCache = new Map<string, number>();
const KEY_CACHE_LIMIT = 2048;
/** Characters of a key whose words are read (and the longest key remembered). */
const KEY_NAME_LENGTH = 256;

const SPLIT_CAMEL = /([a-z0-9])([A-Z])/g;
const SPLIT_ACRONYM = /([A-Z]+)([A-Z][a-z])/g;
const NON_WORD = /[^a-z0-9]+/;

/** What a key says about its value, from its words ({@link KEY_SECRET} … {@link KEY_PAIR_NAME}). */
function nameKind(name: string): number {
  const words = name
    .replace(SPLIT_CAMEL, "$1 $2")
    .replace(SPLIT_ACRONYM, "$1 $2")
    .toLowerCase()
    .split(NON_WORD)
    .filter((w) => w !== "");
  let kind = 0;
  let secretWords = 0;
  let measureWords = 0;
  let codeWord = false;
  let authWord = false;
  let ordinaryWord = false;
  for (const word of words) {
    if (SECRET_KEY_WORDS.has(word) || SECRET_KEY_FRAGMENTS.some((f) => word.includes(f))) secretWords++;
    else if (MEASURE_WORDS.has(word)) measureWords++;
    if (OTP_CONTEXT_WORDS.has(word)) kind |= KEY_OTP_CONTEXT;
    if (word === "code" || word === "codes") codeWord = true;
    else if (AUTH_CODE_WORDS.has(word)) authWord = true;
    else if (ORDINARY_CODE_WORDS.has(word)) ordinaryWord = true;
    else if (word.endsWith("code") || word.endsWith("codes")) {
      // one word: `mfacode`, `otpcodes`
      if (AUTH_CODE_WORDS.has(word.slice(0, word.lastIndexOf("code")))) secretWords++;
    }
  }
  const joined = words.join("");
  if (secretWords === 0 && SECRET_KEY_FRAGMENTS.some((f) => joined.includes(f))) secretWords++;
  if (OTP_CONTEXT_FRAGMENTS.some((f) => joined.includes(f))) kind |= KEY_OTP_CONTEXT;
  if (authWord) kind |= KEY_AUTH_CONTEXT;
  if (secretWords > 0 || (codeWord && authWord && !ordinaryWord)) {
    kind |= measureWords > 0 && secretWords + measureWords === words.length ? KEY_MEASURE : KEY_SECRET;
  } else if (codeWord && words.length === 1) {
    kind |= KEY_BARE_CODE;
  }
  const [first, second] = words;
  if (words.length === 1) {
    if (PAIR_NAME_KEYS.has(first!)) kind |= KEY_PAIR_NAME;
    else if (PAIR_WEAK_NAME_KEYS.has(first!)) kind |= KEY_PAIR_WEAK_NAME;
    else if (PAIR_VALUE_KEYS.has(first!)) kind |= KEY_PAIR_VALUE;
  } else if (words.length === 2 && PAIR_NAME_OWNERS.has(first!) && (second === "name" || second === "key")) {
    kind |= KEY_PAIR_NAME;
  }
  return kind;
}

/** {@link nameKind} of a key, remembered; a key that looks like a secret itself is a secret key. */
function keyKind(key: string): number {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  // only what can be sent is checked (cut keys keep their first maxKeyLength characters), as
  // cleanText does: this bounds the work on huge keys. Not remembered: secrets stay out of the memo
  if (looksLikeSecret(scanWindow(key, SCRUB_LIMITS.maxKeyLength))) return KEY_SECRET;
  const kind = nameKind(key.length > KEY_NAME_LENGTH ? key.slice(0, KEY_NAME_LENGTH) : key);
  if (key.length <= KEY_NAME_LENGTH) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    keyCache.set(key, kind);
  }
  return kind;
}

/**
 * True when the key names a credential or is shaped like one, in any case and with any separator:
 * `password`, `pw`, `apiKey`, `API_KEY`, `x-api-key`, `Authorization`, `set-cookie`, `otp`,
 * `one_time_code`, `mfaCode`, `verification_code`, `passcode`, `accessToken`, `client_secret`,
 * `session` …, and any key for which {@link looksLikeSecret} holds (a JWT, a bearer string, a long
 * random token used as a key). A bare `code` is not (see the README: it depends on where it is and
 * what it holds); `token_count` is, but keeps a number value in metadata.
 */
export function isSecretKey(key: string): boolean {
  return (keyKind(key) & (KEY_SECRET | KEY_MEASURE)) !== 0;
}

/**
 * Strings that may name a credential: a cheap filter before {@link nameKind}, so it must let through
 * every word and fragment of {@link SECRET_KEY_WORDS} and {@link SECRET_KEY_FRAGMENTS}, and `code`.
 */
const MAY_NAME_SECRET =
  /pass|pw|pin|secret|token|auth|cookie|otp|key|jwt|bearer|credential|cv[vc]|sid|sess|[cx]srf|saml|code/i;

/**
 * True when a string that stands as a name in a pair (an array element before its value, the
 * `name` of a name/value object) names a credential: `Cookie`, `X-Api-Key`, `password`, `code`.
 */
function namesCredential(value: string): boolean {
  if (value.length > 128 || !MAY_NAME_SECRET.test(value) || /\s/.test(value)) return false;
  const cached = keyCache.get(value);
  const kind = cached ?? nameKind(value);
  return (kind & (KEY_SECRET | KEY_MEASURE | KEY_BARE_CODE)) !== 0;
}

/** 4 to 10 digits, alone or in two groups (`123456`, `123 456`, `123-456`), as a string or a number. */
const ONE_TIME_CODE = /^\s*\d{2,5}[\s-]?\d{2,5}\s*$/;

function looksLikeOneTimeCode(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value) && value >= 1000 && value < 1e10;
  return typeof value === "string" && ONE_TIME_CODE.test(value);
}

/**
 * What a bare `code` holding an authentication code looks like: a one-time code, or an OAuth
 * authorization code (16 or more characters without spaces, lower case and digits mixed). Error
 * codes (`ECONNRESET`, `ERR_INVALID_ARG`, `auth/invalid-email`, `P2002`, `404`) are not.
 */
function looksLikeAuthCode(value: unknown): boolean {
  if (looksLikeOneTimeCode(value)) return true;
  return (
    typeof value === "string" &&
    value.length >= 16 &&
    /[a-z]/.test(value) &&
    /\d/.test(value) &&
    !/\s/.test(value)
  );
}

/** Names of credentials in `name=value`, `name: value` and `"name": value` pairs. */
const SECRET_NAME =
  "(?:pass(?:word|wd|phrase|code)?|pwd|secret|token|api[-_ ]?key|authori[sz]ation|cookie|otp|" +
  "one[-_ ]?time[-_ ]?(?:code|password|pin)|session[-_ ]?id|sid|access[-_ ]?key|private[-_ ]?key|" +
  "client[-_ ]?secret|credentials?|jwt|bearer|csrf|xsrf|" +
  "(?:mfa|2fa|otp|totp|sms|email|verification|verify|confirmation|recovery|backup|reset|security|" +
  "activation|auth|login|device|access)[-_ ]?codes?)s?";
/** A quote (maybe escaped or URL-encoded) and a separator (maybe URL-encoded). */
const PAIR_SEPARATOR = String.raw`(?:\\?["']|%2[27])?\s*(?:[:=]|%3[ad])`;
/** `password=…`, `"token": …`, `x-api-key: …`, `mfa_code=…`, also URL-encoded or in escaped JSON. */
const KEY_VALUE = new RegExp(SECRET_NAME + PAIR_SEPARATOR, "i");
/** An XML element named after a credential: `<Password>`, `<wsse:Password Type="…">`, `<AccessToken>`. */
const XML_ELEMENT = new RegExp(
  String.raw`<(?:[\w.-]+:)?[\w.-]*?` + SECRET_NAME + String.raw`(?:\s[^<>]*)?>`,
  "i",
);
/**
 * Short names, only as a whole word and only as `name=…` or `"name": …` (query strings, cookies,
 * JSON): `pw=`, `pin=`, `auth=`, `sig=`, `session=`, `?code=…` (an OAuth authorization code), and
 * `"code": "123456"`.
 */
const SHORT_KEY_VALUE = new RegExp(
  String.raw`(?<![a-z0-9])(?:pw|pin|auth|sig|signature|sess|session)s?(?:(?:\\?["']|%2[27])?\s*(?:=|%3d)|\\?["']\s*:)` +
    String.raw`|(?<![a-z0-9_])codes?(?:(?:%2[27])?\s*(?:=|%3d)|\\?["']\s*:\s*\\?["']?\d{4,10}(?!\d))`,
  "i",
);
/** Authorization header values. */
const AUTH_SCHEME =
  /\b(?:bearer\s+[\w~+/.=-]{6,}|basic\s+[a-z0-9+/]{6,}|(?:token|digest|negotiate|apikey|ntlm|dpop)\s+[\w~+/.=-]{16,}|digest\s+\w+=)/i;
/** JWT / JWS / JWE compact form. */
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\./;
/** User info in a URL: `scheme://token@host`, `scheme://user:password@host`, `//user@host`. */
const URL_USER_INFO = /\/\/[^\s/?#@]+@/;
/** Cookie and Set-Cookie header values: `a=1; b=2`, `id=…; Path=/; HttpOnly`. */
const COOKIE_NAME = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const COOKIE = new RegExp(
  String.raw`(?:^|[\s,;:"'])${COOKIE_NAME}=[^;\s]*;\s*${COOKIE_NAME}(?:=|\s*(?:;|$))`,
);
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** Well-known token formats (GitHub, GitLab, npm, Slack, Stripe, AWS, Google, OpenAI, Anthropic, SendGrid). */
const TOKEN_FORMAT =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{22,}|glpat-[\w-]{20,}|npm_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|xapp-[\w-]{10,}|[rs]k_(?:live|test)_[A-Za-z0-9]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{30,}|sk-(?:proj|ant)-[\w-]{20,}|SG\.[\w-]{16,}\.[\w-]{16,})/;
/** Runs of token characters long enough to be a random token. */
const TOKEN_RUN = /[A-Za-z0-9_+/=~-]{36,}/g;
/** Random data has more entropy per character than this (36 random base64 characters: 4.24 at the 0.1st percentile). */
const RANDOM_MIN_ENTROPY_BITS = 4.2;
/**
 * Share of a run's characters in lower-case runs of 3 or more (the words of an identifier such as
 * `getUserProfileByEmailAddressV2`: 0.6 and above); random base64 stays below 0.5 in 999 of 1000.
 */
const RANDOM_MAX_WORD_SHARE = 0.55;
/** Character counts of one run (reused: the check never re-enters). */
const RUN_COUNTS = new Uint16Array(128);

/**
 * True when `run` (token characters only) reads like random data: upper case, lower case and
 * digits mixed, high entropy per character, and few word-like stretches of lower-case letters.
 */
function isRandomRun(run: string): boolean {
  let upper = false;
  let lower = false;
  let digit = false;
  let inWords = 0;
  let lowerRun = 0;
  for (let i = 0; i <= run.length; i++) {
    const c = i < run.length ? run.charCodeAt(i) : 0;
    if (c >= 97 && c <= 122) {
      lower = true;
      lowerRun++;
    } else {
      if (lowerRun >= 3) inWords += lowerRun;
      lowerRun = 0;
      if (c >= 65 && c <= 90) upper = true;
      else if (c >= 48 && c <= 57) digit = true;
    }
    if (i < run.length) RUN_COUNTS[c]!++;
  }
  let entropy = 0;
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    const n = RUN_COUNTS[c]!;
    if (n === 0) continue; // already counted
    const p = n / run.length;
    entropy -= p * Math.log2(p);
    RUN_COUNTS[c] = 0;
  }
  return (
    upper &&
    lower &&
    digit &&
    entropy >= RANDOM_MIN_ENTROPY_BITS &&
    inWords / run.length < RANDOM_MAX_WORD_SHARE
  );
}

/** True when `value` holds a long random token (see {@link isRandomRun}). */
function hasRandomToken(value: string): boolean {
  TOKEN_RUN.lastIndex = 0;
  for (let match = TOKEN_RUN.exec(value); match !== null; match = TOKEN_RUN.exec(value)) {
    if (isRandomRun(match[0])) return true;
  }
  return false;
}

// Characters that decide which patterns of `looksLikeSecret` can match at all, one bit each.
const C_COLON = 1;
const C_PAIRS = 2; // '=' or '%' (an encoded '=')
const C_SPACE = 4;
const C_AT = 8;
const C_E = 16;
const C_DASH = 32;
const C_UNDERSCORE = 64;
/** `;` (cookies, path parameters). */
const C_SEMICOLON = 512;
/** `?` and `#`: where a path ends. */
const C_PATH_END = 1024;
const C_UPPER = 2048;
const C_LOWER = 4096;
const C_DIGIT = 8192;
const C_LT = 16384;
const C_GT = 32768;
/** `<` and `>`: XML elements. */
const C_XML = C_LT | C_GT;

/** Bits per ASCII character; other characters have none. */
const CHAR_CLASS = new Uint16Array(128);
CHAR_CLASS[58] = C_COLON; // :
CHAR_CLASS[61] = C_PAIRS; // =
CHAR_CLASS[60] = C_LT; // <
CHAR_CLASS[62] = C_GT; // >
CHAR_CLASS[37] = C_PAIRS; // %
for (const c of [32, 9, 10, 13]) CHAR_CLASS[c] = C_SPACE;
CHAR_CLASS[64] = C_AT; // @
CHAR_CLASS[45] = C_DASH; // -
CHAR_CLASS[95] = C_UNDERSCORE; // _
for (let c = 65; c <= 90; c++) CHAR_CLASS[c] = C_UPPER;
for (let c = 97; c <= 122; c++) CHAR_CLASS[c] = C_LOWER;
for (let c = 48; c <= 57; c++) CHAR_CLASS[c] = C_DIGIT;
CHAR_CLASS[101] = C_LOWER | C_E; // e
CHAR_CLASS[59] = C_SEMICOLON; // ;
CHAR_CLASS[63] = C_PATH_END; // ?
CHAR_CLASS[35] = C_PATH_END; // #

/** The patterns that the character classes of `value` (`classes`) allow, tested. */
function secretByClasses(value: string, classes: number): boolean {
  const has = (bits: number) => (classes & bits) === bits;
  if ((classes & (C_COLON | C_PAIRS)) !== 0 && (KEY_VALUE.test(value) || SHORT_KEY_VALUE.test(value))) {
    return true;
  }
  if (has(C_XML) && XML_ELEMENT.test(value)) return true;
  if (has(C_AT) && value.includes("//") && URL_USER_INFO.test(value)) return true;
  if (has(C_E) && value.includes("eyJ") && JWT.test(value)) return true;
  if (has(C_SPACE) && (AUTH_SCHEME.test(value) || (has(C_DASH) && PRIVATE_KEY.test(value)))) return true;
  if (has(C_PAIRS | C_SEMICOLON) && COOKIE.test(value)) return true;
  if (value.length < 14) return false;
  if ((classes & (C_UNDERSCORE | C_DASH | C_UPPER)) !== 0 && TOKEN_FORMAT.test(value)) return true;
  return value.length >= 36 && has(C_UPPER | C_LOWER | C_DIGIT) && hasRandomToken(value);
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

/** Characters past a cut that the secret test still reads: a secret straddling the cut is caught. */
const SCAN_MARGIN = 256;

/** What the secret test reads of a value cut to `maxLength`: up to the cut and {@link SCAN_MARGIN} more. */
function scanWindow(value: string, maxLength: number): string {
  return value.length > maxLength + SCAN_MARGIN ? value.slice(0, maxLength + SCAN_MARGIN) : value;
}

/**
 * A caller's free-form string, made safe to send: empty or non-strings give undefined, a value
 * that looks like a secret gives undefined, long values are cut to `maxLength` (the scan looks a
 * little past the cut so that a secret straddling it is still caught).
 */
export function cleanText(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  if (looksLikeSecret(scanWindow(value, maxLength))) return undefined;
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

const REDACTED_SEGMENT = "[redacted]";

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
  const cut = key.length > SCRUB_LIMITS.maxKeyLength ? key.slice(0, SCRUB_LIMITS.maxKeyLength) : key;
  return cut.replace(/[^A-Za-z0-9_-]/g, "_");
}

function put(state: FlattenState, path: string, value: AnyValue): void {
  if (state.count >= SCRUB_LIMITS.maxAttributes || path === "") return;
  state.out[state.prefix + path] = value;
  state.count++;
}

/** A property, or `DROP` when reading it throws (a getter, a proxy). */
const DROP: unique symbol = Symbol("drop");
function read(container: object, key: string | number): unknown {
  try {
    return (container as Record<string | number, unknown>)[key];
  } catch {
    return DROP;
  }
}

/**
 * Arrays: homogeneous arrays of strings, numbers or booleans stay one attribute, other arrays are
 * walked by index. In both, a string that names a credential (`"Cookie"`, `"X-Api-Key"`,
 * `"password"`) is dropped together with the element after it: Node's `rawHeaders`,
 * `[name, value]` pairs.
 */
function walkArray(
  value: readonly unknown[],
  path: string,
  depth: number,
  state: FlattenState,
  context: number,
): void {
  const length = Math.min(value.length, SCRUB_LIMITS.maxArrayLength);
  if (length === 0) return;
  const items: unknown[] = new Array<unknown>(length);
  for (let i = 0; i < length; i++) items[i] = read(value, i);
  const first = typeof items[0];
  let homogeneous = first === "string" || first === "number" || first === "boolean";
  for (let i = 1; homogeneous && i < length; i++) homogeneous = typeof items[i] === first;
  if (homogeneous) {
    state.visited += length;
    if (first === "string") {
      const kept: string[] = [];
      for (let i = 0; i < length; i++) {
        const item = items[i] as string;
        if (namesCredential(item)) {
          i++; // the name and its value
          continue;
        }
        const text = cleanText(item, SCRUB_LIMITS.maxStringLength);
        if (text !== undefined && !(context & KEY_OTP_CONTEXT && looksLikeOneTimeCode(text))) kept.push(text);
      }
      if (kept.length > 0) put(state, path, kept);
    } else if (first === "number") {
      const otp = (context & KEY_OTP_CONTEXT) !== 0;
      const kept = (items as number[]).filter((n) => Number.isFinite(n) && !(otp && looksLikeOneTimeCode(n)));
      if (kept.length > 0) put(state, path, kept);
    } else {
      put(state, path, items as boolean[]);
    }
    return;
  }
  for (let i = 0; i < length; i++) {
    const item = items[i];
    if (typeof item === "string" && namesCredential(item)) {
      state.visited++;
      i++; // the name and its value
      continue;
    }
    walk(item, path === "" ? String(i) : `${path}.${i}`, depth + 1, state, context);
  }
}

/** True when a name/value object's name names a credential: the whole object is dropped. */
function isCredentialPair(value: object, keys: readonly string[]): boolean {
  let weakName = false;
  let valueKey = false;
  for (const key of keys) {
    const kind = keyKind(key);
    if ((kind & KEY_PAIR_ANY) === 0) continue;
    if ((kind & KEY_PAIR_VALUE) !== 0) {
      valueKey = true;
      continue;
    }
    const name = read(value, key);
    if (typeof name !== "string" || !namesCredential(name)) continue;
    if ((kind & KEY_PAIR_NAME) !== 0) return true;
    weakName = true;
  }
  return weakName && valueKey;
}

/**
 * `context`: the {@link KEY_AUTH_CONTEXT} and {@link KEY_OTP_CONTEXT} bits of the keys above
 * `value`.
 */
function walk(value: unknown, path: string, depth: number, state: FlattenState, context: number): void {
  if (state.count >= SCRUB_LIMITS.maxAttributes || ++state.visited > SCRUB_LIMITS.maxVisited) return;
  switch (typeof value) {
    case "string": {
      const text = cleanText(value, SCRUB_LIMITS.maxStringLength);
      if (text !== undefined && !(context & KEY_OTP_CONTEXT && looksLikeOneTimeCode(text)))
        put(state, path, text);
      return;
    }
    case "number":
      if (Number.isFinite(value) && !(context & KEY_OTP_CONTEXT && looksLikeOneTimeCode(value))) {
        put(state, path, value);
      }
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
    let time: number;
    try {
      time = Date.prototype.getTime.call(value); // not the object's own methods: they could be anything
    } catch {
      return; // Date.prototype in its chain, but not a date
    }
    if (Number.isFinite(time)) put(state, path, Date.prototype.toISOString.call(value));
    return;
  }
  if (depth >= SCRUB_LIMITS.maxDepth || state.stack.includes(value)) return;
  // binary data, exotic containers and boxed strings (walked, they would spell the string out key
  // by key) are dropped: they cannot be checked for secrets
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof String
  ) {
    return;
  }
  state.stack.push(value);
  try {
    if (Array.isArray(value)) {
      walkArray(value, path, depth, state, context);
      return;
    }
    const keys = Object.keys(value);
    if (isCredentialPair(value, keys)) return;
    for (const key of keys) {
      if (state.count >= SCRUB_LIMITS.maxAttributes || state.visited > SCRUB_LIMITS.maxVisited) return;
      const kind = keyKind(key);
      if ((kind & KEY_SECRET) !== 0) continue;
      const child = read(value, key);
      if (child === DROP) continue;
      if ((kind & KEY_MEASURE) !== 0 && typeof child !== "number") continue; // `token_count: 12` only
      if ((kind & KEY_BARE_CODE) !== 0 && ((context & KEY_AUTH_CONTEXT) !== 0 || looksLikeAuthCode(child))) {
        continue;
      }
      const segment = safeKeySegment(key);
      walk(
        child,
        path === "" ? segment : `${path}.${segment}`,
        depth + 1,
        state,
        context | (kind & (KEY_AUTH_CONTEXT | KEY_OTP_CONTEXT)),
      );
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
  walk(metadata, "", 0, state, 0);
  return state.count;
}
