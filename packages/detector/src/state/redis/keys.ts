/**
 * Key layout of the Redis state (all keys start with the configured prefix, default `secmon:`):
 *
 * | key                           | type   | what                                                  | TTL                               |
 * | ----------------------------- | ------ | ----------------------------------------------------- | --------------------------------- |
 * | `<p>c:{w<n>}:<k>:<rule>`      | string | a rule's clock: the newest event time of its groups   | TTL + epoch + extra, per write    |
 * | `<p><k>:{w<n>}:<rule>:<e>`    | hash   | the rule's groups whose newest event is in epoch e    | until the epoch is a TTL old      |
 * | `<p>dm:{w<n>}:<group>:<t>`    | zset   | a distinct window's members → their last bucket       | TTL + epoch + extra, per write    |
 * | `<p>b:{w<n>}:<batch id>`      | string | an applied batch's results (one per shard)            | applied_batch_ttl_seconds         |
 * | `<p>{a}:…`                    | …      | alerts, deduplication and their indexes               | closed alerts: retention          |
 * | `<p>{r}:…`                    | …      | report hour buckets, applied report batches           | report retention, batch TTL       |
 * | `<p>{o}:…`                    | …      | outbox deliveries and dead letters                    | none (bounded)                    |
 *
 * `<k>` is `w` (count, sum) or `d` (distinct); an epoch is one TTL of event time; the
 * extra is `key_ttl_extra_seconds` (window-script.ts has the details).
 *
 * Window state is split into shards by the CRC16 of the group key (`<rule id>|<group text>`);
 * `{w<n>}` is shard n's Redis Cluster hash tag, so one script call per shard updates all of its
 * keys atomically, and the shards spread over a cluster's nodes. Alerts, report and outbox keys
 * each share one tag (they are small and need multi-key atomicity).
 */

/** The hash tag of window shard n, braces included. */
export function shardTag(shard: number): string {
  return `{w${shard}}`;
}

/** Kind of window state: w count / sum, d distinct. */
export type StateKind = "w" | "d";

/** Start of a rule's epoch hashes in one shard (`<start><epoch>`: hash, group → state). */
export function stateHashPrefix(prefix: string, tag: string, kind: StateKind, rule: string): string {
  return `${prefix}${kind}:${tag}:${rule}:`;
}

/** A rule's clock in one shard: the newest event time of its groups. */
export function clockKey(prefix: string, tag: string, kind: StateKind, rule: string): string {
  return `${prefix}c:${tag}:${kind}:${rule}`;
}

/** The applied-batch marker of one script call (one per shard a batch touches). */
export function batchKey(prefix: string, tag: string, batchId: string): string {
  return `${prefix}b:${tag}:${batchId}`;
}

/** Start of every alert key: one hash tag, one slot. */
export function alertsBase(prefix: string): string {
  return `${prefix}{a}:`;
}

/** Start of every report key. */
export function reportBase(prefix: string): string {
  return `${prefix}{r}:`;
}

/** Start of every outbox key. */
export function outboxBase(prefix: string): string {
  return `${prefix}{o}:`;
}
