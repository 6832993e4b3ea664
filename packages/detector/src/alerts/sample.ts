/**
 * An event as alerts and the events API show it (alerts.md: `sample_events`, "every text field is
 * safe to show to a person: no secrets"). Our instrumentation never sends a credential, but any
 * OpenTelemetry sender can: an attribute whose name is a credential's (`password`,
 * `http.request.header.authorization`, `session_token` …; the spec's own keys are known) or whose
 * value looks like one (a JWT, a `Bearer …` header, a cookie string, a URL with user info, a long
 * random token) is left out, by the same tests the instrumentation's scrubber applies.
 */
import { isSecretKey, looksLikeSecret } from "@secmon/instrumentation/scrub";
import { ATTR } from "@secmon/semconv";
import type { AttrValue, Attributes, SecurityEvent } from "../event.ts";
import type { SampleEvent } from "./types.ts";

/** The spec's attribute keys: known not to name a credential (`auth.method`, `session.id` is a hash). */
const SPEC_KEYS: ReadonlySet<string> = new Set(Object.values(ATTR));

/** Decisions per attribute key: keys repeat across events, the test runs once per key. */
const keyVerdicts = new Map<string, boolean>();
const MAX_KEY_VERDICTS = 4096;

function secretKey(key: string): boolean {
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = !SPEC_KEYS.has(key) && isSecretKey(key);
    if (keyVerdicts.size >= MAX_KEY_VERDICTS) keyVerdicts.clear();
    keyVerdicts.set(key, verdict);
  }
  return verdict;
}

function secretValue(value: AttrValue): boolean {
  if (typeof value === "string") return looksLikeSecret(value);
  if (Array.isArray(value)) return value.some((v) => typeof v === "string" && looksLikeSecret(v));
  return false;
}

/** The attributes without those that name or hold a credential (the same object when none does). */
export function showableAttributes(attributes: Attributes): Attributes {
  let out: Attributes | undefined;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    if (!secretKey(key) && !secretValue(attributes[key]!)) continue;
    out ??= ownCopy(attributes);
    delete out[key];
  }
  return out ?? attributes;
}

/** A copy of the own attributes, each defined as a property (a key `__proto__` stays a key). */
function ownCopy(attributes: Attributes): Attributes {
  const copy: Attributes = {};
  for (const key of Object.keys(attributes)) {
    Object.defineProperty(copy, key, {
      value: attributes[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** A security event as an alert's sample or an entry of the events API. */
export function toSample(e: SecurityEvent): SampleEvent {
  return {
    time: new Date(e.time).toISOString(),
    event_name: e.name,
    service: e.service,
    attributes: showableAttributes(e.attributes),
    ...(e.traceId ? { trace_id: e.traceId } : {}),
    ...(e.spanId ? { span_id: e.spanId } : {}),
  };
}
