import { ATTR, ATTR_EVENT_NAME, RESOURCE_ATTR } from "@secmon/semconv";
import ipaddr from "ipaddr.js";
import { toSample } from "../alerts/sample.ts";
import type { Alert, SampleEvent } from "../alerts/types.ts";
import type { AttrValue, SecurityEvent } from "../event.ts";
import { addressGrouper } from "../rules/attributes.ts";

/** Maps a client address to its group form (IPv4 as is, IPv6 as its prefix network). */
export type AddressGrouper = (address: string) => string;

export interface RecentEventsOptions {
  /** Events kept per watched group. Default 50. */
  readonly perGroup?: number;
  /** Groups watched at most (the least recently alerted dropped first). Default 5000. */
  readonly maxGroups?: number;
  /** Events of all groups kept, newest, as the context of a group when it is first watched. Default 4096. */
  readonly bufferEvents?: number;
  /**
   * Group form of a client address. Pass the rules' own grouping (same IPv6 prefix) so that
   * watched groups line up with alert groups (`addressGrouper(prefix)` from rules/attributes.ts,
   * memoized). Default: that grouping at the spec's /64.
   */
  readonly addressGroup?: AddressGrouper;
}

type Kind = "address" | "hash" | "user" | "service";
type Group = Readonly<Record<string, string>>;

/** A fixed-size ring of the most recent events, oldest overwritten first. */
class Ring {
  readonly #size: number;
  #items: SecurityEvent[] = [];
  #next = 0;

  constructor(size: number) {
    this.#size = size;
  }

  push(e: SecurityEvent): void {
    if (this.#items.length < this.#size) this.#items.push(e);
    else this.#items[this.#next] = e;
    this.#next = (this.#next + 1) % this.#size;
  }

  /** Newest first, at most `limit`. */
  newestFirst(limit: number): SecurityEvent[] {
    const n = this.#items.length;
    const out: SecurityEvent[] = [];
    for (let i = 1; i <= n && out.length < limit; i++) {
      out.push(this.#items[(this.#next - i + n) % n] as SecurityEvent);
    }
    return out;
  }
}

/** A group with an alert, its events from the moment it was first watched. */
interface Watch {
  readonly key: string;
  readonly matches: (e: SecurityEvent) => boolean;
  /** The group's event name, if it has one: a cheap first test (service-wide groups have it). */
  readonly eventName: string | undefined;
  readonly ring: Ring;
  /** The tracked attribute value it is indexed under; undefined: checked against every event. */
  readonly anchor: { readonly kind: Kind; readonly value: string } | undefined;
}

/**
 * The recent events of the groups that have alerts, so the API can show what a group did around
 * its alert (GET /api/alerts/:id/events), as this replica received them.
 *
 * Indexing every value of every event (a ring per client address, user and service, each event
 * kept in four of them) cost more than the whole rule pack: every kept event outlives the young
 * generation and is copied and traced by the garbage collector. So the index follows the alerts:
 * - a buffer of the last `bufferEvents` events of all groups (whole batches kept by reference:
 *   no work per event);
 * - `watch(group)`, for every alert change behind a firing, gives the group a ring seeded from
 *   that buffer (its events from before the alert) and from then on its events go to the ring
 *   (the newest `perGroup` kept); the events of the batch that raised the alert are observed
 *   after the alert, so they are in it;
 * - at most `maxGroups` groups are watched, the least recently alerted dropped first;
 * - a group that is not watched is answered from the buffer.
 * Per event, the cost is one lookup per tracked attribute while some group is watched.
 */
export class RecentEvents {
  readonly #perGroup: number;
  readonly #maxGroups: number;
  readonly #bufferEvents: number;
  readonly #addressGroup: AddressGrouper;
  /** Watched groups by key, in order of their last alert (the first is the next to drop). */
  readonly #watches = new Map<string, Watch>();
  /** Watched groups by the value of the tracked attribute they are anchored on. */
  readonly #index: Record<Kind, Map<string, Watch[]>> = {
    address: new Map(),
    hash: new Map(),
    user: new Map(),
    service: new Map(),
  };
  /** Watched groups without a tracked attribute (custom rules): checked against every event. */
  #unanchored: Watch[] = [];
  /** The buffer: the newest batches, oldest first, holding at least `bufferEvents` events. */
  readonly #batches: (readonly SecurityEvent[])[] = [];
  #buffered = 0;

  constructor(options: RecentEventsOptions = {}) {
    this.#perGroup = options.perGroup ?? 50;
    this.#maxGroups = options.maxGroups ?? 5000;
    this.#bufferEvents = options.bufferEvents ?? 0;
    this.#addressGroup = options.addressGroup ?? defaultAddressGroup;
  }

  /** Called with every evaluated batch; never throws. */
  observe(events: readonly SecurityEvent[]): void {
    if (events.length === 0) return;
    this.#buffer(events);
    if (this.#watches.size === 0) return;
    const { address, hash, user, service } = this.#index;
    const unanchored = this.#unanchored;
    for (const e of events) {
      const attrs = e.attributes;
      if (address.size > 0) {
        const a = attrs[ATTR.CLIENT_ADDRESS];
        if (typeof a === "string" && a !== "") offer(address.get(this.#addressGroup(a)), e);
      }
      if (hash.size > 0) {
        const h = attrs[ATTR.USER_HASH];
        if (typeof h === "string" && h !== "") offer(hash.get(h), e);
      }
      if (user.size > 0) {
        const id = attrs[ATTR.USER_ID];
        if (id !== undefined && id !== "") offer(user.get(typeof id === "string" ? id : String(id)), e);
      }
      if (service.size > 0) offer(service.get(e.service), e);
      for (const w of unanchored) offerOne(w, e);
    }
  }

  /**
   * Keeps the events of `group` from now on (an alert changed for it), with its events still in
   * the buffer as what came before. Watching a watched group again only marks it as recent.
   */
  watch(group: Group): void {
    const key = groupKey(group);
    const known = this.#watches.get(key);
    if (known !== undefined) {
      this.#watches.delete(key);
      this.#watches.set(key, known);
      return;
    }
    if (this.#watches.size >= this.#maxGroups) {
      const oldest = this.#watches.values().next().value;
      if (oldest !== undefined) this.#unwatch(oldest);
    }
    const matches = this.#compile(group);
    const ring = new Ring(this.#perGroup);
    for (const e of this.#scan(matches, this.#perGroup).reverse()) ring.push(e);
    const watch: Watch = {
      key,
      matches,
      eventName: group[ATTR_EVENT_NAME],
      ring,
      anchor: this.#anchorOf(group),
    };
    this.#watches.set(key, watch);
    if (watch.anchor === undefined) this.#unanchored.push(watch);
    else {
      const byValue = this.#index[watch.anchor.kind];
      const list = byValue.get(watch.anchor.value);
      if (list) list.push(watch);
      else byValue.set(watch.anchor.value, [watch]);
    }
  }

  /**
   * The recent events matching every attribute of an alert's group, newest first: its ring when
   * the group is watched, else what the buffer still holds. Empty when nothing was seen (the
   * detector keeps no history beyond this).
   */
  eventsFor(group: Group, limit = this.#perGroup): SampleEvent[] {
    const watch = this.#watches.get(groupKey(group));
    const events = watch ? watch.ring.newestFirst(limit) : this.#scan(this.#compile(group), limit);
    return events.map(toSample);
  }

  /**
   * The events of an alert's group for the API: what `eventsFor` holds (newest first), then the
   * alert's own sample events from before the oldest of those (the events that raised it, which
   * the index may not hold), at most `limit`.
   */
  eventsForAlert(alert: Pick<Alert, "group" | "sample_events">, limit = this.#perGroup): SampleEvent[] {
    const out = this.eventsFor(alert.group, limit);
    const oldest = out.length > 0 ? Date.parse(out[out.length - 1]!.time) : Infinity;
    const earlier = alert.sample_events
      .filter((s) => Date.parse(s.time) < oldest)
      .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    for (const s of earlier) {
      if (out.length >= limit) break;
      out.push(s);
    }
    return out;
  }

  /** Groups watched (for tests and sizing). */
  get groupCount(): number {
    return this.#watches.size;
  }

  #buffer(events: readonly SecurityEvent[]): void {
    if (this.#bufferEvents === 0) return;
    this.#batches.push(events);
    this.#buffered += events.length;
    while (this.#batches.length > 1 && this.#buffered - this.#batches[0]!.length >= this.#bufferEvents) {
      this.#buffered -= this.#batches.shift()!.length;
    }
  }

  /** The buffer's events matching, newest first, at most `limit`. */
  #scan(matches: (e: SecurityEvent) => boolean, limit: number): SecurityEvent[] {
    const out: SecurityEvent[] = [];
    let budget = this.#bufferEvents;
    for (let b = this.#batches.length - 1; b >= 0 && out.length < limit && budget > 0; b--) {
      const batch = this.#batches[b]!;
      for (let i = batch.length - 1; i >= 0 && out.length < limit && budget > 0; i--, budget--) {
        const e = batch[i]!;
        if (matches(e)) out.push(e);
      }
    }
    return out;
  }

  #unwatch(watch: Watch): void {
    this.#watches.delete(watch.key);
    if (watch.anchor === undefined) {
      this.#unanchored = this.#unanchored.filter((w) => w !== watch);
      return;
    }
    const byValue = this.#index[watch.anchor.kind];
    const list = byValue.get(watch.anchor.value)?.filter((w) => w !== watch) ?? [];
    if (list.length === 0) byValue.delete(watch.anchor.value);
    else byValue.set(watch.anchor.value, list);
  }

  /** The tracked attribute a group is indexed under, in the order a lookup prefers them. */
  #anchorOf(group: Group): Watch["anchor"] {
    const address = group[ATTR.CLIENT_ADDRESS];
    if (address !== undefined) {
      return { kind: "address", value: address.includes("/") ? address : this.#addressGroup(address) };
    }
    const hash = group[ATTR.USER_HASH];
    if (hash !== undefined) return { kind: "hash", value: hash };
    const id = group[ATTR.USER_ID];
    if (id !== undefined) return { kind: "user", value: id };
    const service = group[RESOURCE_ATTR.SERVICE_NAME];
    if (service !== undefined) return { kind: "service", value: service };
    return undefined;
  }

  /** A predicate true for the events of `group` (every attribute equal; addresses as grouped). */
  #compile(group: Group): (e: SecurityEvent) => boolean {
    const checks = Object.entries(group).map(([attr, value]) => this.#matcher(attr, value));
    if (checks.length === 0) return () => false;
    return (e) => checks.every((check) => check(e));
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

function offer(watches: readonly Watch[] | undefined, e: SecurityEvent): void {
  if (watches === undefined) return;
  for (const w of watches) offerOne(w, e);
}

function offerOne(w: Watch, e: SecurityEvent): void {
  if ((w.eventName === undefined || w.eventName === e.name) && w.matches(e)) w.ring.push(e);
}

/** One key per group, whatever the order of its attributes. */
function groupKey(group: Group): string {
  return JSON.stringify(Object.entries(group).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function text(v: AttrValue | undefined): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

/** The spec's default IPv6 grouping prefix (security-events.md). */
export const DEFAULT_IPV6_PREFIX = 64;

/** The rules' own grouping at the default prefix: IPv4 (and mapped IPv4) as is, IPv6 as its /64. */
export const defaultAddressGroup: AddressGrouper = addressGrouper(DEFAULT_IPV6_PREFIX);

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
