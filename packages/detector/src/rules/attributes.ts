import { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";
import { ATTR, ATTR_EVENT_NAME, RESOURCE_ATTR } from "@secmon/semconv";
import type { AttrValue, SecurityEvent } from "../event.ts";

/** Reads an attribute a rule names: the pseudo-attributes first, then the record's, then the resource's. */
export type AttributeReader = (event: SecurityEvent) => AttrValue | undefined;

export function attributeReader(name: string): AttributeReader {
  if (name === RESOURCE_ATTR.SERVICE_NAME) return (e) => e.service;
  if (name === ATTR_EVENT_NAME) return (e) => e.name;
  return (e) => e.attributes[name] ?? e.resource[name];
}

/** A number from a number or a numeric string; undefined otherwise. */
export function toNumber(v: AttrValue | undefined): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string") {
    if (v.trim() === "") return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * The address an IP text stands for: IPv4 as is, IPv4-mapped IPv6 as its IPv4 address, other IPv6
 * in RFC 5952 form; undefined when the text is not an IP address.
 */
export function canonicalAddress(text: string): { address: string; family: 4 | 6 } | undefined {
  if (isIPv4(text)) return { address: text, family: 4 };
  if (!isIPv6(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return { address: v6.toIPv4Address().toString(), family: 4 };
  return { address: v6.toRFC5952String(), family: 6 };
}

/**
 * How a client address is shown and grouped: IPv4 (and IPv4-mapped IPv6) as the address, other
 * IPv6 as its /prefix network (`2001:db8:1:2::/64`); anything else as the text itself.
 */
export function groupAddress(text: string, ipv6Prefix: number): string {
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return text;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  if (ipv6Prefix >= 128) return v6.toRFC5952String();
  const parts = v6.parts.slice();
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, ipv6Prefix - i * 16));
    parts[i] = keep === 0 ? 0 : parts[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
  return `${new ipaddr.IPv6(parts).toRFC5952String()}/${ipv6Prefix}`;
}

/** The text of a group value; undefined for a missing or empty value. */
function groupText(v: AttrValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v.length === 0 ? undefined : JSON.stringify(v);
}

/** Escapes a group value for the group key, so that distinct groups never share a key. */
function escapeKeyPart(v: string): string {
  return v.includes("|") || v.includes("\\") ? v.replace(/[\\|]/g, (c) => "\\" + c) : v;
}

/**
 * Builds a rule's group: the key (`<rule>|<value>|<value>…`, unique across rules) and the values
 * shown to people. Both are undefined when a group attribute is missing or empty.
 */
export interface GroupExtractor {
  readonly attributes: readonly string[];
  /** Same for every rule grouping by the same attributes (and IPv6 prefix). */
  readonly signature: string;
  /** The group part of the key (`<value>|<value>…`, escaped); undefined when a value is missing. */
  text(event: SecurityEvent): string | undefined;
  key(event: SecurityEvent): string | undefined;
  values(event: SecurityEvent): Record<string, string>;
}

/** A small bounded memo of address → group form, so repeated addresses are parsed once. */
class AddressMemo {
  readonly #map = new Map<string, string>();
  readonly #prefix: number;
  readonly #max: number;
  constructor(prefix: number, max = 4096) {
    this.#prefix = prefix;
    this.#max = max;
  }
  get(text: string): string {
    // Only IPv6 text changes (IPv4 and anything without a colon group as themselves), so only
    // IPv6 is looked up: no map traffic for the common case, and no churn of the bounded memo.
    if (!text.includes(":")) return text;
    let v = this.#map.get(text);
    if (v === undefined) {
      v = groupAddress(text, this.#prefix);
      if (this.#map.size >= this.#max) this.#map.clear();
      this.#map.set(text, v);
    }
    return v;
  }
}

const memos = new Map<number, AddressMemo>();

function memoFor(prefix: number): AddressMemo {
  let m = memos.get(prefix);
  if (!m) {
    m = new AddressMemo(prefix);
    memos.set(prefix, m);
  }
  return m;
}

/**
 * The group form of a client address at `ipv6Prefix` (IPv4 and mapped IPv4 as is, IPv6 as its
 * prefix network), through the same bounded memo the rules use: the recent-events index and the
 * report call this for the addresses the rules have just grouped, so they hit the memo.
 */
export function addressGrouper(ipv6Prefix: number): (address: string) => string {
  const memo = memoFor(ipv6Prefix);
  return (address) => memo.get(address);
}

export function groupExtractor(
  ruleId: string,
  attributes: readonly string[],
  ipv6Prefix: number,
): GroupExtractor {
  const memo = memoFor(ipv6Prefix);
  const parts = attributes.map((name) => {
    const read = attributeReader(name);
    if (name === ATTR.CLIENT_ADDRESS) {
      return (e: SecurityEvent): string | undefined => {
        const t = groupText(read(e));
        return t === undefined ? undefined : memo.get(t);
      };
    }
    return (e: SecurityEvent): string | undefined => groupText(read(e));
  });
  const only = parts.length === 1 ? parts[0]! : undefined;
  const text = only
    ? (e: SecurityEvent): string | undefined => {
        const v = only(e);
        return v === undefined ? undefined : escapeKeyPart(v);
      }
    : (e: SecurityEvent): string | undefined => {
        let out = "";
        for (let i = 0; i < parts.length; i++) {
          const v = parts[i]!(e);
          if (v === undefined) return undefined;
          out += i === 0 ? escapeKeyPart(v) : "|" + escapeKeyPart(v);
        }
        return out;
      };
  const prefix = ruleId + "|";
  return {
    attributes,
    signature: JSON.stringify([attributes, ipv6Prefix]),
    text,
    key: (e) => {
      const t = text(e);
      return t === undefined ? undefined : prefix + t;
    },
    values: (e) => {
      const out: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) out[attributes[i]!] = parts[i]!(e) ?? "";
      return out;
    },
  };
}
