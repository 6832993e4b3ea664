/**
 * Key layout of the Redis state (all keys start with the configured prefix, default `secmon:`):
 *
 * | key                              | type   | what                                              | TTL                       |
 * | -------------------------------- | ------ | ------------------------------------------------- | ------------------------- |
 * | `<p>w:{<group>}`                 | string | numeric window: newest time, buckets              | window ttl + extra        |
 * | `<p>d:{<group>}`                 | string | distinct window: newest, pruned-to, bucket counts | window ttl + extra        |
 * | `<p>dm:{<group>}`                | zset   | distinct members → their last bucket              | window ttl + extra        |
 * | `<p>b:{<group>}:<batch id>`      | string | an applied batch's results (cluster: per slot)     | applied_batch_ttl_seconds |
 * | `<p>b:<batch id>`                | string | the same, standalone / sentinel (one per batch)   | applied_batch_ttl_seconds |
 * | `<p>{a}:…`                       | …      | alerts, deduplication and their indexes           | closed alerts: retention  |
 * | `<p>{r}:…`                       | …      | report hour buckets                               | report retention          |
 * | `<p>{o}:…`                       | …      | outbox deliveries and dead letters                | none (bounded)            |
 *
 * `<group>` is the group key (`<rule id>|<group text>`) with `%`, `{` and `}` escaped, so that
 * the part between the braces is the Redis Cluster hash tag: every key of one group lives in one
 * slot, and one script call per slot can update them atomically. Alerts, report and outbox keys
 * each share one tag (they are small and need multi-key atomicity).
 */

/** `%`, `{`, `}` percent-encoded: a group key can never open or close a hash tag. */
export function escapeTag(key: string): string {
  if (!/[%{}]/.test(key)) return key;
  return key.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"));
}

export function windowKey(prefix: string, group: string): string {
  return `${prefix}w:{${escapeTag(group)}}`;
}

export function distinctKey(prefix: string, group: string): string {
  return `${prefix}d:{${escapeTag(group)}}`;
}

export function distinctMembersKey(prefix: string, group: string): string {
  return `${prefix}dm:{${escapeTag(group)}}`;
}

/** The applied-batch marker of one script call: in the slot of `group` (cluster) or global. */
export function batchKey(prefix: string, batchId: string, group?: string): string {
  return group === undefined ? `${prefix}b:${batchId}` : `${prefix}b:{${escapeTag(group)}}:${batchId}`;
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
