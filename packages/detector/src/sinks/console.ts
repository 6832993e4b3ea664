import { styleText } from "node:util";
import type { AlertSeverity } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

/** Where the console sink writes (process.stdout by default). */
export interface ConsoleStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ConsoleSinkOptions {
  readonly name?: string;
  readonly stream?: ConsoleStream;
  readonly color?: "auto" | "always" | "never";
  /** Base URL of the HTTP API (public_url, else http://<endpoint>), for a link to the alert. */
  readonly apiBaseUrl?: string;
}

type Style = Parameters<typeof styleText>[0];

const SEVERITY_STYLE: Record<AlertSeverity, Style> = {
  critical: ["bold", "red"],
  high: "red",
  medium: "yellow",
  low: "cyan",
};

/** A readable multi-line summary of one alert change. */
export function formatChange(
  delivery: Pick<Delivery, "type" | "alert">,
  options: { color?: boolean; apiBaseUrl?: string } = {},
): string {
  const a: Alert = delivery.alert;
  const paint = (style: Style, text: string): string =>
    options.color ? styleText(style, text, { validateStream: false }) : text;
  const what = {
    "alert.created": "new alert",
    "alert.updated": "alert updated",
    "alert.status_changed": `alert ${a.status.replace("_", " ")}`,
  }[delivery.type];
  const group = Object.entries(a.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const lines: [string, string][] = [];
  lines.push(["group", group || "(none)"]);
  if (a.value !== undefined) {
    const parts = [String(a.value)];
    if (a.threshold !== undefined) parts.push(`threshold ${a.threshold}`);
    if (a.window_seconds !== undefined) parts.push(`window ${a.window_seconds}s`);
    lines.push(["value", parts.length > 1 ? `${parts[0]} (${parts.slice(1).join(", ")})` : String(parts[0])]);
  } else if (a.window_seconds !== undefined) {
    lines.push(["window", `${a.window_seconds}s`]);
  }
  lines.push(["seen", `${a.first_seen} → ${a.last_seen} (${a.count} firing${a.count === 1 ? "" : "s"})`]);
  if (a.services.length > 0) lines.push(["services", a.services.join(", ")]);
  lines.push(["status", a.assignee ? `${a.status}, assigned to ${a.assignee}` : a.status]);
  if (a.resolution) {
    lines.push(["resolution", `${a.resolution.by}: ${a.resolution.note || "(no note)"}`]);
  }
  for (const action of a.recommended_actions) lines.push(["action", action]);
  for (const r of a.responses) {
    lines.push(["response", `${r.action} ${r.target}${r.until ? ` until ${r.until}` : ""}`]);
  }
  if (options.apiBaseUrl)
    lines.push(["link", `${options.apiBaseUrl.replace(/\/+$/, "")}/api/alerts/${a.id}`]);
  const head =
    paint(SEVERITY_STYLE[a.severity], `[${a.severity.toUpperCase()}]`) +
    ` ${paint("bold", a.rule)} ${a.title} ${paint("dim", `(${what}, ${a.id})`)}`;
  const width = Math.max(...lines.map(([k]) => k.length));
  return [head, ...lines.map(([k, v]) => `  ${paint("dim", k.padEnd(width))}  ${v}`)].join("\n") + "\n";
}

/** The default sink: a summary per alert change on stdout; colours only on a terminal. */
export class ConsoleSink implements Sink {
  readonly type = "console";
  readonly name: string;
  readonly #stream: ConsoleStream;
  readonly #color: boolean;
  readonly #apiBaseUrl: string | undefined;

  constructor(options: ConsoleSinkOptions = {}) {
    this.name = options.name ?? "console";
    this.#stream = options.stream ?? process.stdout;
    const color = options.color ?? "auto";
    this.#color = color === "always" || (color === "auto" && this.#stream.isTTY === true);
    this.#apiBaseUrl = options.apiBaseUrl;
  }

  async send(delivery: Delivery): Promise<AttemptResult> {
    try {
      this.#stream.write(
        formatChange(delivery, {
          color: this.#color,
          ...(this.#apiBaseUrl ? { apiBaseUrl: this.#apiBaseUrl } : {}),
        }),
      );
      return { ok: true };
    } catch (err) {
      return { ok: false, retryable: false, detail: `write failed: ${(err as Error).message}` };
    }
  }
}
