import { createTransport, type Transporter } from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import { ALERT_SEVERITIES } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import { formatChange } from "./console.ts";
import { alertUrl, changeText, groupText, truncate, valueText } from "./format.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** `starttls`: plain connection upgraded with STARTTLS, which is required; `tls`: TLS from the first byte. */
  readonly security: "starttls" | "tls";
  readonly username?: string;
  readonly password?: string;
  /** PEM certificates to trust besides the system's (a private CA or a self-signed server). */
  readonly ca?: string;
}

export interface EmailSinkOptions {
  readonly name: string;
  readonly smtp: SmtpOptions;
  readonly from: string;
  readonly to: readonly string[];
  readonly subjectPrefix: string;
  readonly timeoutMs: number;
  readonly apiBaseUrl?: string;
  /** Replaces the SMTP transport (tests). */
  readonly transporter?: Transporter<SMTPTransport.SentMessageInfo>;
}

export interface EmailMessage {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const SEVERITY_COLOR: Record<Alert["severity"], string> = {
  critical: "#b00020",
  high: "#d9480f",
  medium: "#b08800",
  low: "#1c7ed6",
};

/** Most severe first, then in the order the changes happened. */
function ordered<D extends Pick<Delivery, "alert">>(deliveries: readonly D[]): D[] {
  return deliveries
    .map((d, i) => ({ d, i }))
    .sort(
      (x, y) =>
        ALERT_SEVERITIES.indexOf(x.d.alert.severity) - ALERT_SEVERITIES.indexOf(y.d.alert.severity) ||
        x.i - y.i,
    )
    .map(({ d }) => d);
}

/** One message for a batch of changes: a subject that counts them, a text and an HTML summary. */
export function emailMessage(
  deliveries: readonly Pick<Delivery, "type" | "alert">[],
  o: { readonly subjectPrefix: string; readonly apiBaseUrl?: string },
): EmailMessage {
  const list = ordered(deliveries);
  const first = list[0];
  let subject: string;
  if (list.length === 1 && first) {
    const a = first.alert;
    subject = `${o.subjectPrefix} ${a.severity.toUpperCase()}: ${a.title} (${changeText(first.type, a)})`;
  } else {
    const counts = ALERT_SEVERITIES.map(
      (s) => [s, list.filter((d) => d.alert.severity === s).length] as const,
    )
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`);
    subject = `${o.subjectPrefix} ${list.length} alert changes: ${counts.join(", ")}`;
  }
  const text =
    list.map((d) => formatChange(d, { ...(o.apiBaseUrl ? { apiBaseUrl: o.apiBaseUrl } : {}) })).join("\n") +
    "\n-- \nsecmon: alert changes are batched; each alert links to the API for its details.\n";
  const rows = list.map((d) => {
    const a = d.alert;
    const link = alertUrl(o.apiBaseUrl, a.id);
    const cells: [string, string][] = [
      ["Rule", escapeHtml(a.rule)],
      ["Group", escapeHtml(groupText(a) || "(none)")],
      ["Value", escapeHtml(valueText(a) ?? "n/a")],
      [
        "Seen",
        `${escapeHtml(a.first_seen)} → ${escapeHtml(a.last_seen)} (${a.count} firing${a.count === 1 ? "" : "s"})`,
      ],
      ["Status", escapeHtml(a.assignee ? `${a.status}, assigned to ${a.assignee}` : a.status)],
    ];
    if (a.services.length > 0) cells.push(["Services", escapeHtml(a.services.join(", "))]);
    if (a.resolution) {
      cells.push(["Resolution", escapeHtml(`${a.resolution.by}: ${a.resolution.note || "(no note)"}`)]);
    }
    if (a.recommended_actions.length > 0) {
      cells.push([
        "Actions",
        `<ul style="margin:0;padding-left:18px">${a.recommended_actions.map((x) => `<li>${escapeHtml(x)}</li>`).join("")}</ul>`,
      ]);
    }
    const title = escapeHtml(truncate(a.title, 300));
    return [
      `<h3 style="margin:16px 0 4px"><span style="color:${SEVERITY_COLOR[a.severity]}">${a.severity.toUpperCase()}</span> `,
      link ? `<a href="${escapeHtml(link)}">${title}</a>` : title,
      ` <small style="color:#666">(${escapeHtml(changeText(d.type, a))}, ${escapeHtml(a.id)})</small></h3>`,
      `<table style="border-collapse:collapse">`,
      ...cells.map(
        ([k, v]) =>
          `<tr><td style="padding:2px 12px 2px 0;color:#666;vertical-align:top">${k}</td><td style="padding:2px 0">${v}</td></tr>`,
      ),
      `</table>`,
    ].join("");
  });
  const html = `<!doctype html><html><body style="font-family:sans-serif">${rows.join("\n")}</body></html>`;
  return { subject: truncate(subject, 250), text, html };
}

/** SMTP reply codes 4xx are transient; network and TLS troubles are worth another try too. */
function classify(err: unknown): AttemptResult {
  const e = err as { responseCode?: unknown; code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  const reply = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const detail = `SMTP ${reply ?? code ?? "error"}${typeof e.message === "string" ? `: ${truncate(e.message, 200)}` : ""}`;
  if (reply !== undefined) return { ok: false, retryable: reply < 500, detail };
  return { ok: false, retryable: code !== "EENVELOPE" && code !== "EMESSAGE", detail };
}

/**
 * E-mail over SMTP (nodemailer): STARTTLS (required) or implicit TLS, optional login. The
 * dispatcher batches its deliveries (route `batch`): one message per batch window to every
 * recipient, with every alert change of the window in it, so a storm makes at most one
 * message per window.
 */
export class EmailSink implements Sink {
  readonly type = "email";
  readonly name: string;
  readonly #o: EmailSinkOptions;
  readonly #transporter: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(options: EmailSinkOptions) {
    this.name = options.name;
    this.#o = options;
    const s = options.smtp;
    this.#transporter =
      options.transporter ??
      createTransport({
        host: s.host,
        port: s.port,
        secure: s.security === "tls",
        requireTLS: s.security === "starttls",
        ...(s.username !== undefined ? { auth: { user: s.username, pass: s.password ?? "" } } : {}),
        tls: { minVersion: "TLSv1.2", ...(s.ca ? { ca: s.ca } : {}) },
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        disableFileAccess: true,
        disableUrlAccess: true,
      });
  }

  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    return this.sendBatch([delivery], signal);
  }

  async sendBatch(deliveries: readonly Delivery[], signal: AbortSignal): Promise<AttemptResult> {
    if (deliveries.length === 0) return { ok: true };
    const message = emailMessage(deliveries, this.#o);
    const sent = this.#transporter
      .sendMail({
        from: this.#o.from,
        to: [...this.#o.to],
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: { "X-Secmon-Delivery": deliveries.map((d) => d.id).join(", ") },
      })
      .then(
        (): AttemptResult => ({ ok: true }),
        (err: unknown) => classify(err),
      );
    const aborted = new Promise<AttemptResult>((resolve) => {
      const done = (): void => resolve({ ok: false, retryable: true, detail: "aborted: detector stopping" });
      if (signal.aborted) done();
      signal.addEventListener("abort", done, { once: true });
    });
    return Promise.race([sent, aborted]);
  }

  async close(): Promise<void> {
    this.#transporter.close();
  }
}
