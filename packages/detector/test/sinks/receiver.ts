import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Decides the answer to the n-th request (0-based); may leave `res` open to hang. */
export type Responder = (n: number, req: Received, res: ServerResponse) => void;

/** A real HTTP receiver on 127.0.0.1:<free port> that records what it gets. */
export async function startReceiver(respond: Responder = (_n, _r, res) => res.writeHead(204).end()): Promise<{
  url: string;
  received: Received[];
  maxConcurrent: () => number;
  close: () => Promise<void>;
}> {
  const received: Received[] = [];
  let open = 0;
  let max = 0;
  const server = createServer((req, res) => {
    open++;
    max = Math.max(max, open);
    res.on("close", () => open--);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(r);
      respond(received.length - 1, r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    maxConcurrent: () => max,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
