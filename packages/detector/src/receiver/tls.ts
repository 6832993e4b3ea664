import { readFile } from "node:fs/promises";
import { SecmonError } from "../errors.ts";
import type { ReceiverTlsConfig } from "./config.ts";

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Present when client certificates are required (mTLS). */
  readonly ca: Buffer | undefined;
}

async function read(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new SecmonError("CONFIG_INVALID", `cannot read TLS ${what} ${path}`, { cause: err });
  }
}

/** Reads the PEM files a receiver's `tls` section names. */
export async function loadTls(config: ReceiverTlsConfig): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    read(config.cert_file, "certificate"),
    read(config.key_file, "key"),
    config.client_ca_file === undefined ? undefined : read(config.client_ca_file, "client CA"),
  ]);
  return { cert, key, ca };
}
