import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PostalMime from "postal-mime";
import { SMTPServer } from "smtp-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { emailMessage } from "../../src/sinks/email.ts";
import { SqliteOutbox } from "../../src/outbox/sqlite.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { change, fakeTime, patched, waitFor } from "./helpers.ts";

interface Mail {
  readonly rcpt: string[];
  readonly secure: boolean;
  readonly user: string | undefined;
  readonly at: number;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly deliveryHeader: string;
}

const dir = mkdtempSync(join(tmpdir(), "secmon-smtp-"));
const keyFile = join(dir, "key.pem");
const certFile = join(dir, "cert.pem");
const env = { SMTP_USER: "secmon", SMTP_PASSWORD: "s3cret-smtp" };

beforeAll(() => {
  // a self-signed certificate for 127.0.0.1, trusted by the sink through ca_file
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real SMTP server (smtp-server) on 127.0.0.1 offering STARTTLS and requiring a login. */
async function startSmtp(clock: () => number, opts: { port?: number } = {}) {
  const mails: Mail[] = [];
  const pending: Promise<void>[] = [];
  const server = new SMTPServer({
    secure: false,
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
    authMethods: ["PLAIN", "LOGIN"],
    // no login before STARTTLS (the default), so a successful login proves TLS
    onAuth(auth, _session, cb) {
      if (auth.username === env.SMTP_USER && auth.password === env.SMTP_PASSWORD)
        cb(null, { user: auth.username });
      else cb(new Error("Invalid username or password"));
    },
    onData(stream, session, cb) {
      const rcpt = session.envelope.rcptTo.map((r) => r.address);
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        pending.push(
          PostalMime.parse(raw).then((m) => {
            mails.push({
              rcpt,
              secure: session.secure,
              user: session.user as string | undefined,
              at: clock(),
              subject: m.subject ?? "",
              text: m.text ?? "",
              html: m.html ?? "",
              deliveryHeader: m.headers.find((h) => h.key === "x-secmon-delivery")?.value ?? "",
            });
          }),
        );
        cb();
      });
    },
    logger: false,
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    mails,
    settled: () => Promise.all(pending),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function emailConfig(port: number, extra: Record<string, unknown> = {}) {
  return sinksSectionSchema.parse([
    {
      type: "email",
      name: "mail",
      smtp: {
        host: "127.0.0.1",
        port,
        security: "starttls",
        username: { env: "SMTP_USER" },
        password: { env: "SMTP_PASSWORD" },
        ca_file: certFile,
      },
      from: "secmon@example.com",
      to: ["soc@example.com", "oncall@example.com"],
      min_severity: "medium",
      timeout_seconds: 5,
      ...extra,
    },
  ]);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("email sink against a real SMTP server (STARTTLS, login)", () => {
  it("a storm makes one message per recipient per batch window, with every alert in it", async () => {
    const time = fakeTime();
    const smtp = await startSmtp(time.clock);
    cleanups.push(smtp.close);
    const dispatcher = createSinkDispatcher(emailConfig(smtp.port), {
      env,
      clock: time.clock,
      sleep: time.sleep,
      apiBaseUrl: "https://secmon.example.com",
    });
    cleanups.push(() => dispatcher.stop());
    await dispatcher.start();

    const t0 = time.clock();
    const storm = Array.from({ length: 30 }, (_, i) =>
      change({
        rule: "brute_force",
        severity: i % 3 === 0 ? "critical" : "high",
        group: { "client.address": `203.0.113.${i}` },
      }),
    );
    dispatcher.dispatch(storm);
    await dispatcher.whenIdle();
    const later = Array.from({ length: 20 }, (_, i) =>
      change({ rule: "password_spray", group: { "client.address": `198.51.100.${i}` } }),
    );
    // below min_severity: never mailed
    dispatcher.dispatch([...later.slice(0, 10), change({ severity: "low" }), ...later.slice(10)]);
    await dispatcher.whenIdle();
    await smtp.settled();

    expect(smtp.mails).toHaveLength(2);
    for (const m of smtp.mails) {
      expect(m.rcpt).toEqual(["soc@example.com", "oncall@example.com"]);
      expect(m.secure).toBe(true);
      expect(m.user).toBe("secmon");
    }
    const [first, second] = smtp.mails;
    expect(first!.at).toBe(t0);
    expect(second!.at - first!.at).toBe(60_000); // the next window, not before
    expect(first!.subject).toBe("[secmon] 30 alert changes: 10 critical, 20 high");
    for (const c of storm) {
      expect(first!.text).toContain(c.alert.id);
      expect(first!.html).toContain(`https://secmon.example.com/api/alerts/${c.alert.id}`);
    }
    for (const c of later) expect(second!.text).toContain(c.alert.id);
    expect(first!.deliveryHeader.split(", ")).toHaveLength(30);
    // most severe first
    expect(first!.text.indexOf("[CRITICAL]")).toBeLessThan(first!.text.indexOf("[HIGH]"));
  });

  it("one change gets a subject of its own; resolution and actions are in text and HTML, escaped", () => {
    const c = change({ title: "Spray <script>alert(1)</script> & co" } as never);
    const single = emailMessage([c], { subjectPrefix: "[secmon]" });
    expect(single.subject).toBe(`[secmon] HIGH: ${c.alert.title} (new alert)`);
    const closed = patched(c.alert, { status: "resolved", resolution: { note: "blocked <b>" } });
    const m = emailMessage([closed], { subjectPrefix: "[x]" });
    expect(m.html).not.toContain("<script>");
    expect(m.html).toContain("&lt;script&gt;");
    expect(m.html).toContain("blocked &lt;b&gt;");
    expect(m.text).toContain("resolution");
  });

  it("keeps the batch in the durable outbox while the server is down, and sends it as one message after a restart", async () => {
    const time = fakeTime();
    const path = join(dir, `outbox-${Date.now()}.db`);
    const port = await startSmtp(time.clock).then(async (s) => (await s.close(), s.port));
    // 1st run: the server is down; the attempt fails and is rescheduled, then the detector stops
    const outbox1 = new SqliteOutbox({ path });
    await outbox1.start();
    const { metrics, points } = testMetrics();
    const first = createSinkDispatcher(emailConfig(port), {
      env,
      clock: time.clock,
      outbox: outbox1,
      metrics,
      drainMs: 50,
    });
    await first.start();
    const changes = Array.from({ length: 5 }, (_, i) => change({ rule: `r${i}` }));
    first.dispatch(changes);
    // the attempt failed (connection refused) and was rescheduled
    await waitFor(async () =>
      (await points("secmon_sink_deliveries")).some((p) => p.attributes["outcome"] === "retry"),
    );
    await first.stop();
    await outbox1.stop();

    // 2nd run: the server is back on the same port
    const smtp = await startSmtp(time.clock, { port });
    cleanups.push(smtp.close);
    const outbox2 = new SqliteOutbox({ path });
    await outbox2.start();
    cleanups.push(() => outbox2.stop());
    const second = createSinkDispatcher(emailConfig(port), {
      env,
      clock: time.clock,
      sleep: time.sleep,
      outbox: outbox2,
    });
    cleanups.push(() => second.stop());
    await second.start();
    await second.whenIdle();
    await smtp.settled();
    expect(smtp.mails).toHaveLength(1);
    for (const c of changes) expect(smtp.mails[0]!.text).toContain(c.alert.id);
    expect((await outbox2.deadLetters.list({ limit: 10 })).dead_letters).toEqual([]);
  });

  it("a wrong password is final (535): the batch becomes dead letters", async () => {
    const time = fakeTime();
    const smtp = await startSmtp(time.clock);
    cleanups.push(smtp.close);
    const dispatcher = createSinkDispatcher(emailConfig(smtp.port), {
      env: { ...env, SMTP_PASSWORD: "wrong" },
      clock: time.clock,
      sleep: time.sleep,
    });
    cleanups.push(() => dispatcher.stop());
    dispatcher.dispatch([change(), change()]);
    await dispatcher.whenIdle();
    expect(smtp.mails).toHaveLength(0);
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toHaveLength(2);
    expect(dead_letters[0]).toMatchObject({ reason: "final_status" });
    expect(dead_letters[0]!.detail).toMatch(/SMTP 535/);
    expect(dead_letters[0]!.detail).not.toContain("wrong");
  });
});
