import type { RedisServer } from "../../packages/detector/test/redis/server.ts";

/** redis-server's CPU seconds so far (INFO cpu: user + sys of the server process). */
export async function redisCpuSeconds(server: RedisServer): Promise<number> {
  const conn = server.connection({ prefix: "cpu:" });
  await conn.open();
  try {
    const info = await conn.client.info("cpu");
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
    return field("used_cpu_user") + field("used_cpu_sys");
  } finally {
    await conn.close();
  }
}
