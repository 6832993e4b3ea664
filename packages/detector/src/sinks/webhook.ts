import { postJson } from "./http.ts";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signBody } from "./signature.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

export interface WebhookSinkOptions {
  readonly name: string;
  readonly url: string;
  /** The resolved secret (never logged). */
  readonly secret: string;
  readonly timeoutMs: number;
  readonly clock?: () => number;
}

/** The JSON body of a webhook delivery (alerts.md). */
export function webhookBody(delivery: Pick<Delivery, "type" | "alert">): string {
  return JSON.stringify({ type: delivery.type, alert: delivery.alert });
}

/**
 * The generic webhook: POST `{ type, alert }` with X-Secmon-Delivery (stable across retries)
 * and X-Secmon-Signature (HMAC-SHA256 over `"<t>.<raw body>"`, `t` fresh on every attempt).
 */
export class WebhookSink implements Sink {
  readonly type = "webhook";
  readonly name: string;
  readonly #o: WebhookSinkOptions;
  readonly #clock: () => number;

  constructor(options: WebhookSinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    const body = webhookBody(delivery);
    return postJson({
      url: this.#o.url,
      headers: {
        [DELIVERY_HEADER]: delivery.id,
        [SIGNATURE_HEADER]: signBody(this.#o.secret, body, this.#clock()),
        "user-agent": "secmon-detector",
      },
      body,
      timeoutMs: this.#o.timeoutMs,
      signal,
      now: this.#clock,
    });
  }
}
