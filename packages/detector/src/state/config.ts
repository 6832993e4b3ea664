import { z } from "zod";
import { secretRefSchema } from "../config/secret.ts";

const hostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be host:port (IPv6 hosts in brackets)")
  .describe("host:port");

const redisTlsSchema = z
  .strictObject({
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file of the CA that signed the server certificate (default: the system CAs)"),
    cert_file: z.string().min(1).optional().describe("Client certificate (PEM) when the server asks for one"),
    key_file: z.string().min(1).optional().describe("Key of the client certificate (PEM)"),
    server_name: z.string().min(1).optional().describe("Name to verify the server certificate against (SNI)"),
  })
  .describe("TLS to Redis (also turned on by a `rediss://` url)");

const sentinelSchema = z
  .strictObject({
    master_name: z.string().min(1).describe("Name of the monitored master (`sentinel monitor <name> …`)"),
    nodes: z.array(hostPortSchema).min(1).max(16).describe("Sentinel addresses, host:port"),
    username: z.string().min(1).optional().describe("ACL user for the sentinels"),
    password: secretRefSchema.optional().describe("Password of the sentinels"),
  })
  .describe("Redis Sentinel: the master is looked up through the sentinels and followed on failover");

const clusterSchema = z
  .strictObject({
    nodes: z
      .array(hostPortSchema)
      .min(1)
      .max(64)
      .describe("Some cluster nodes, host:port; the rest are found"),
  })
  .describe("Redis Cluster: keys are spread over the cluster's slots by their hash tag");

export const redisStateSchema = z
  .strictObject({
    mode: z
      .enum(["standalone", "sentinel", "cluster"])
      .default("standalone")
      .describe(
        "standalone: one server (`url`); sentinel: a master found through `sentinel`; cluster: `cluster`",
      ),
    url: z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, "must be redis://host:port[/db] or rediss://…")
      .default("redis://127.0.0.1:6379")
      .describe(
        "standalone: redis://[user@]host:port[/db] (rediss:// for TLS); give the password as `password`, never in the url",
      ),
    db: z
      .number()
      .int()
      .min(0)
      .max(255)
      .optional()
      .describe("Database number (standalone, sentinel); default: the url's, else 0"),
    username: z.string().min(1).optional().describe("ACL user (Redis 6+)"),
    password: secretRefSchema.optional().describe("Password of the Redis servers (AUTH)"),
    tls: redisTlsSchema.optional(),
    sentinel: sentinelSchema.optional(),
    cluster: clusterSchema.optional(),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/, "letters, digits and : _ . - only (no braces: they are hash tags)")
      .default("secmon:")
      .describe("Start of every key, so that several deployments can share one Redis"),
    command_timeout_seconds: z
      .number()
      .min(0.05)
      .max(60)
      .default(2)
      .describe(
        "A command without an answer after this fails, and the batch is refused with UNAVAILABLE / 503 (the sender retries)",
      ),
    connect_timeout_seconds: z
      .number()
      .min(0.1)
      .max(300)
      .default(10)
      .describe("How long start waits for the first connection; the detector does not start without Redis"),
    shards: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .optional()
      .describe(
        "Hash-tag shards of the window state, spread over a cluster's slots (one script call per shard a batch touches); the same on every replica. Default: 1, or 16 with mode cluster",
      ),
    applied_batch_ttl_seconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(900)
      .describe(
        "How long an applied batch id (with its results) is remembered, so that a sender's retry never counts twice; cover the senders' retry period",
      ),
    key_ttl_extra_seconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(120)
      .describe(
        "Added to each window key's TTL (window + lateness + two buckets), so that a window outlives a short outage while senders hold the data",
      ),
  })
  .superRefine((r, ctx) => {
    if (r.mode === "sentinel" && !r.sentinel) {
      ctx.addIssue({ code: "custom", path: ["sentinel"], message: "required when mode is sentinel" });
    }
    if (r.mode === "cluster" && !r.cluster) {
      ctx.addIssue({ code: "custom", path: ["cluster"], message: "required when mode is cluster" });
    }
    if (r.mode !== "sentinel" && r.sentinel) {
      ctx.addIssue({ code: "custom", path: ["sentinel"], message: "only with mode sentinel" });
    }
    if (r.mode !== "cluster" && r.cluster) {
      ctx.addIssue({ code: "custom", path: ["cluster"], message: "only with mode cluster" });
    }
    if (/:\/\/[^/@]*:[^/@]*@/.test(r.url)) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "must not hold a password: use `password`" });
    }
  })
  .prefault({})
  .describe("The Redis that holds the shared state (backend: redis)");

/**
 * Config section `state`: where windows, alerts, report buckets and deliveries live. `memory`:
 * in this process (one replica, lost on restart); `redis`: in Redis, shared by every replica and
 * kept across restarts.
 */
export const stateSectionSchema = z
  .strictObject({
    backend: z
      .enum(["memory", "redis"])
      .default("memory")
      .describe(
        "memory: one detector, state lost on restart; redis: state in Redis, shared by replicas and kept across restarts",
      ),
    redis: redisStateSchema,
  })
  .prefault({})
  .describe("Where detection state lives (windows, alerts, deduplication, report)");

export type StateConfig = z.infer<typeof stateSectionSchema>;
export type RedisStateConfig = z.infer<typeof redisStateSchema>;
