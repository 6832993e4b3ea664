/**
 * Key layout of the Redis state (all keys start with the configured prefix, default `secmon:`):
 *
 * | key                           | type   | what                                                 | TTL                               |
 * | ----------------------------- | ------ | ---------------------------------------------------- | --------------------------------- |
 * | `<p>w:{w<n>}:<rule>`          | hash   | count / sum windows of a rule: group → state         | window ttl + extra, per write     |
 * | `<p>d:{w<n>}:<rule>`          | hash   | distinct windows of a rule: group → newest, pruned   | window ttl + extra, per write     |
 * | `<p>dm:{w<n>}:<group>`        | zset   | a distinct window's members → their last bucket      | window ttl + extra (+ 8 buckets)  |
 * | `<p>we:{w<n>}:<rule>`, `de:…` | zset   | a rule's groups → their newest event time            | window ttl + extra, per write     |
 * | `<p>b:{w<n>}:<batch id>`      | string | an applied batch's results (one per shard)           | applied_batch_ttl_seconds         |
 * | `<p>{a}:…`                    | …      | alerts, deduplication and their indexes              | closed alerts: retention          |
 * | `<p>{r}:…`                    | …      | report hour buckets, applied report batches          | report retention, batch TTL       |
 * | `<p>{o}:…`                    | …      | outbox deliveries and dead letters                   | none (bounded)                    |
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

/** A rule's count / sum windows in one shard (hash: group → state). */
export function windowHashKey(prefix: string, tag: string, rule: string): string {
  return `${prefix}w:${tag}:${rule}`;
}

/** A rule's groups of one kind of window in one shard (sorted set: group → newest event time). */
export function groupIndexKey(prefix: string, tag: string, rule: string, kind: "count" | "distinct"): string {
  return `${prefix}${kind === "count" ? "w" : "d"}e:${tag}:${rule}`;
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
