import { ATTR, ATTR_EVENT_NAME, RESOURCE_ATTR } from "@secmon/semconv";
import ipaddr from "ipaddr.js";
import type { SampleEvent } from "../alerts/types.ts";
import type { AttrValue, SecurityEvent } from "../event.ts";
import { groupAddress } from "../rules/attributes.ts";

/** Maps a client address to its group form (IPv4 as is, IPv6 as its prefix network). */
export type AddressGrouper = (address: string) => string;

/** The attributes the default rules group by, in the order a lookup prefers them. */
export const TRACKED_ATTRIBUTES = [
  ATTR.CLIENT_ADDRESS,
  ATTR.USER_HASH,
  ATTR.USER_ID,
  RESOURCE_ATTR.SERVICE_NAME,
] as const;

export interface RecentEventsOptions {
  /** Events kept per tracked value. Default 50. */
  readonly perGroup?: number;
  /** Values kept per tracked attribute (least recently seen dropped first). Default 5000. */
  readonly maxGroups?: number;
  /**
   * Group form of a client address. Pass the rules' own grouping (same IPv6 prefix) so that the
   * rings line up with alert groups (e.g. `(a) => groupAddress(a, prefix)` from rules/attributes.ts).
   * Default: that grouping at the spec's /64.
   */
  readonly addressGroup?: AddressGrouper;
}

type Kind = "address" | "hash" | "user" | "service";

/**
 * A fixed-size ring of the most recent events, oldest overwritten first; also a node of its
 * attribute's LRU list (`prev` / `next`).
 */
class Ring {
  key: string;
  items: SecurityEvent[] = [];
  next = 0;
  prevRing: Ring | null = null;
  nextRing: Ring | null = null;

  constructor(key: string) {
    this.key = key;
  }

  push(e: SecurityEvent, size: number): void {
    if (this.items.length < size) this.items.push(e);
    else this.items[this.next] = e;
    this.next = (this.next + 1) % size;
  }

  /** Newest first. */
  newestFirst(): SecurityEvent[] {
    const n = this.items.length;
    const out: SecurityEvent[] = [];
    for (let i = 1; i <= n; i++) out.push(this.items[(this.next - i + n) % n] as SecurityEvent);
    return out;
  }
}

/**
 * The rings of one tracked attribute, least recently seen dropped first: a map for lookup and an
 * intrusive doubly linked list in order of use (head: least recently seen), so that touching and
 * evicting are O(1) with no allocation. An evicted ring is emptied and reused for the new value.
 * The value touched last is remembered, so a run of events with one value (a batch's service)
 * costs no lookup: it is the tail already.
 */
class RingLru {
  readonly #map = new Map<string, Ring>();
  readonly #max: number;
  readonly #perGroup: number;
  #head: Ring | null = null;
  #tail: Ring | null = null;

  constructor(max: number, perGroup: number) {
    this.#max = max;
    this.#perGroup = perGroup;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The ring of `key` without touching it. */
  peek(key: string): Ring | undefined {
    return this.#map.get(key);
  }

  /** Adds `e` to the ring of `key` (created, evicting the least recently seen, when new). */
  push(key: string, e: SecurityEvent): void {
    const tail = this.#tail;
    if (tail !== null && tail.key === key) {
      tail.push(e, this.#perGroup);
      return;
    }
    let ring = this.#map.get(key);
    if (ring !== undefined) {
      this.#unlink(ring);
    } else if (this.#map.size >= this.#max && this.#head !== null) {
      ring = this.#head;
      this.#unlink(ring);
      this.#map.delete(ring.key);
      ring.key = key;
      ring.items = [];
      ring.next = 0;
      this.#map.set(key, ring);
    } else {
      ring = new Ring(key);
      this.#map.set(key, ring);
    }
    // append as the most recently seen
    ring.prevRing = this.#tail;
    ring.nextRing = null;
    if (this.#tail !== null) this.#tail.nextRing = ring;
    else this.#head = ring;
    this.#tail = ring;
    ring.push(e, this.#perGroup);
  }

  #unlink(ring: Ring): void {
    if (ring.prevRing !== null) ring.prevRing.nextRing = ring.nextRing;
    else this.#head = ring.nextRing;
    if (ring.nextRing !== null) ring.nextRing.prevRing = ring.prevRing;
    else this.#tail = ring.prevRing;
    ring.prevRing = ring.nextRing = null;
  }
}

/**
 * The recent events per value of every attribute the rules group by, so the API can show the
 * events behind an alert. Memory is bounded: `perGroup` events per value, `maxGroups` values
 * (an event is shared, not copied, between the rings of its values).
 */
export class RecentEvents {
  /** One LRU per tracked attribute, keyed by the value itself (no per-event key strings). */
  readonly #rings: Record<Kind, RingLru>;
  readonly #perGroup: number;
  readonly #addressGroup: AddressGrouper;

  constructor(options: RecentEventsOptions = {}) {
    this.#perGroup = options.perGroup ?? 50;
    const max = options.maxGroups ?? 5000;
    this.#rings = {
      address: new RingLru(max, this.#perGroup),
      hash: new RingLru(max, this.#perGroup),
      user: new RingLru(max, this.#perGroup),
      service: new RingLru(max, this.#perGroup),
    };
    this.#addressGroup = memoize(options.addressGroup ?? defaultAddressGroup);
  }

  /** Called with every evaluated batch; never throws. */
  observe(events: readonly SecurityEvent[]): void {
    const r = this.#rings;
    for (const e of events) {
      const attrs = e.attributes;
      const address = attrs[ATTR.CLIENT_ADDRESS];
      if (typeof address === "string" && address !== "") r.address.push(this.#addressGroup(address), e);
      const hash = attrs[ATTR.USER_HASH];
      if (typeof hash === "string" && hash !== "") r.hash.push(hash, e);
      const id = attrs[ATTR.USER_ID];
      if (id !== undefined && id !== "") r.user.push(typeof id === "string" ? id : String(id), e);
      r.service.push(e.service, e);
    }
  }

  /**
   * The recent events matching every attribute of an alert's group, newest first. Empty when the
   * group has no tracked attribute or nothing was seen (the detector keeps no history beyond this).
   */
  eventsFor(group: Readonly<Record<string, string>>, limit = this.#perGroup): SampleEvent[] {
    const ring = this.#ringFor(group);
    if (!ring) return [];
    const checks = Object.entries(group).map(([attr, value]) => this.#matcher(attr, value));
    const out: SampleEvent[] = [];
    for (const e of ring.newestFirst()) {
      if (out.length >= limit) break;
      if (checks.every((check) => check(e))) out.push(toSample(e));
    }
    return out;
  }

  /** Values tracked, all attributes together (for tests and sizing). */
  get groupCount(): number {
    const r = this.#rings;
    return r.address.size + r.hash.size + r.user.size + r.service.size;
  }

  #ringFor(group: Readonly<Record<string, string>>): Ring | undefined {
    const r = this.#rings;
    const address = group[ATTR.CLIENT_ADDRESS];
    if (address !== undefined)
      return r.address.peek(address.includes("/") ? address : this.#addressGroup(address));
    const hash = group[ATTR.USER_HASH];
    if (hash !== undefined) return r.hash.peek(hash);
    const id = group[ATTR.USER_ID];
    if (id !== undefined) return r.user.peek(id);
    const service = group[RESOURCE_ATTR.SERVICE_NAME];
    if (service !== undefined) return r.service.peek(service);
    return undefined;
  }

  #matcher(attr: string, value: string): (e: SecurityEvent) => boolean {
    if (attr === RESOURCE_ATTR.SERVICE_NAME) return (e) => e.service === value;
    if (attr === ATTR_EVENT_NAME) return (e) => e.name === value;
    if (attr === ATTR.CLIENT_ADDRESS) {
      const cidr = parseCidr(value);
      return (e) => {
        const a = text(e.attributes[ATTR.CLIENT_ADDRESS]);
        if (a === undefined) return false;
        if (this.#addressGroup(a) === value || a === value) return true;
        return cidr !== undefined && inCidr(a, cidr);
      };
    }
    return (e) => text(e.attributes[attr] ?? e.resource[attr]) === value;
  }
}

function text(v: AttrValue | undefined): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function toSample(e: SecurityEvent): SampleEvent {
  return {
    time: new Date(e.time).toISOString(),
    event_name: e.name,
    service: e.service,
    attributes: e.attributes,
    ...(e.traceId ? { trace_id: e.traceId } : {}),
    ...(e.spanId ? { span_id: e.spanId } : {}),
  };
}

/** The spec's default IPv6 grouping prefix (security-events.md). */
export const DEFAULT_IPV6_PREFIX = 64;

/** The rules' own grouping at the default prefix: IPv4 (and mapped IPv4) as is, IPv6 as its /64. */
export function defaultAddressGroup(address: string): string {
  return groupAddress(address, DEFAULT_IPV6_PREFIX);
}

/** A bounded memo, so a repeated address is parsed once. */
export function memoize(fn: AddressGrouper, max = 16_384): AddressGrouper {
  const memo = new Map<string, string>();
  return (address) => {
    if (!address.includes(":")) return address; // IPv4 (or not an address): as is, no lookup
    let v = memo.get(address);
    if (v === undefined) {
      v = fn(address);
      if (memo.size >= max) memo.clear();
      memo.set(address, v);
    }
    return v;
  };
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseCidr(value: string): Cidr | undefined {
  return value.includes("/") && ipaddr.isValidCIDR(value) ? ipaddr.parseCIDR(value) : undefined;
}

function inCidr(address: string, cidr: Cidr): boolean {
  if (!ipaddr.isValid(address)) return false;
  let a = ipaddr.parse(address);
  if (a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return a.kind() === cidr[0].kind() && a.match(cidr);
}
