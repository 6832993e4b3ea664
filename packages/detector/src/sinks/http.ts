import { parseRetryAfter, type AttemptResult } from "./sink.ts";

export interface PostOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timeoutMs: number;
  /** Aborts when the detector stops. */
  readonly signal: AbortSignal;
  /** For Retry-After dates. */
  readonly now: () => number;
}

/** Statuses worth another try besides 5xx (alerts.md). */
const RETRYABLE = new Set([408, 429]);

/**
 * One HTTP POST, classified for the dispatcher: 2xx ok; network errors, timeouts, 408, 429 and
 * 5xx retryable (with Retry-After); everything else final. Shared by every HTTP sink.
 */
export async function postJson(o: PostOptions): Promise<AttemptResult> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...o.headers },
      body: o.body,
      redirect: "manual",
      signal: AbortSignal.any([timeout, o.signal]),
    });
  } catch (err) {
    if (timeout.aborted) return { ok: false, retryable: true, detail: `timed out after ${o.timeoutMs} ms` };
    if (o.signal.aborted) return { ok: false, retryable: true, detail: "aborted: detector stopping" };
    return { ok: false, retryable: true, detail: `network error: ${describe(err)}` };
  }
  // the body is not needed; release the connection
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  const retryable = res.status >= 500 || RETRYABLE.has(res.status);
  const retryAfterMs = retryable ? parseRetryAfter(res.headers.get("retry-after"), o.now()) : undefined;
  return {
    ok: false,
    retryable,
    status: res.status,
    detail: `HTTP ${res.status}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = cause && typeof cause === "object" && "code" in cause ? String(cause.code) : undefined;
    return code ?? err.message;
  }
  return String(err);
}
