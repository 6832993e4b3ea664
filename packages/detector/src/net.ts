import { isIP } from "node:net";

/** Splits a `host:port` endpoint (IPv6 hosts in brackets). */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`invalid endpoint ${endpoint}: expected host:port`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** True when a listen host is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}
