import { countKind, distinctKind, sumKind } from "./kinds/threshold.ts";
import { sequenceKind } from "./kinds/sequence.ts";
import type { RuleKind } from "./types.ts";

/**
 * The registry of rule kinds. A rule's `detect.kind` names an entry; the entry validates the
 * `detect` block with its own schema and builds the rule's evaluator. Adding a kind is adding an
 * entry: the loader, linter, compiler, engine and reference doc need no change.
 *
 * How the next four default rules fit (spec default-rules.md), each as one more entry:
 * - `new_location_login` → kind `seen`: `detect: { kind: seen, value: network | country,
 *   lookback_seconds: 2592000 }`. Per trigger event the evaluator derives the member (IPv4 /24,
 *   IPv6 /48, or geo.country.iso_code) and emits a `seen_add` op (membership with TTL =
 *   lookback) whose result says whether the member was already there and whether the group had
 *   any history; it fires when the member is new and history exists.
 * - `impossible_travel` → kind `last`: emits a `last_swap` op per trigger (the group's previous
 *   successful location + time, replaced by this one); `decide` computes the great-circle speed
 *   and compares it with `max_speed_kmh`. The locations come from `geo.*` attributes or a lookup
 *   hook given in KindContext.
 * - `behavior_anomaly` → kind `profile`: emits a `profile_update` op with the event's features
 *   (hour of day, route, address, volume); the store returns the profile before the update and
 *   `decide` scores the event against it (no alert while the profile is still learning).
 * - `threat_intel_match` → kind `list_match`: stateless. `collect` looks the address up in a
 *   loaded list (BlockList of addresses and CIDRs, from KindContext), `ops` emits nothing, and
 *   `decide` fires with the list entry's severity (the Decision gains an optional severity).
 * Those ops are declared (commented) in src/state/types.ts next to the windowed ones: plain data
 * with their TTLs, one key per group, so the batch script, idempotency per batchId and the
 * memory bounds work unchanged.
 */
export class KindRegistry {
  readonly #kinds = new Map<string, RuleKind>();

  register<S extends { kind: string }>(kind: RuleKind<S>): this {
    if (this.#kinds.has(kind.name)) throw new Error(`rule kind ${kind.name} is already registered`);
    this.#kinds.set(kind.name, kind as unknown as RuleKind);
    return this;
  }

  get(name: string): RuleKind | undefined {
    return this.#kinds.get(name);
  }

  names(): string[] {
    return [...this.#kinds.keys()];
  }

  all(): RuleKind[] {
    return [...this.#kinds.values()];
  }
}

/** A registry with every built-in kind. */
export function defaultRegistry(): KindRegistry {
  return new KindRegistry()
    .register(countKind)
    .register(sumKind)
    .register(distinctKind)
    .register(sequenceKind);
}
