import { SecmonError } from "./errors.ts";
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

/** A listen failure as the configuration problem it is (`key`: the config key of the endpoint). */
export function listenError(key: string, endpoint: string, err: unknown): SecmonError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === "EADDRINUSE"
      ? "the address is already in use"
      : code === "EADDRNOTAVAIL"
        ? "no such local address"
        : code === "EACCES"
          ? "permission denied"
          : (err as Error | undefined)?.message;
  return new SecmonError("CONFIG_INVALID", `${key} ${endpoint}: cannot listen (${why})`, { cause: err });
}
