import { DEMO_USERS } from "@secmon/demo-service";

/**
 * Attacks against the demo service's HTTP routes. Each one comes from its own documentation
 * address (RFC 5737 / RFC 3849), sent as X-Forwarded-For: the service must trust the proxy the
 * simulator talks through (the demo does for loopback). Each names the rules it should trip.
 */
export interface Attack {
  /** The flag that selects it: `--brute-force` and so on. */
  readonly id: string;
  readonly description: string;
  /** Rule ids this attack must make fire (others may fire too). */
  readonly expects: readonly string[];
  run(client: AttackClient): Promise<void>;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/** Sends requests to the target service as if from a given client address. */
export class AttackClient {
  readonly #baseUrl: string;
  requests = 0;

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
  }

  async send(
    method: string,
    path: string,
    from: string,
    options: { json?: unknown; session?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { "x-forwarded-for": from, "user-agent": "secmon-simulate/0.1" };
    if (options.json !== undefined) headers["content-type"] = "application/json";
    if (options.session !== undefined) headers["cookie"] = `sid=${options.session}`;
    const res = await fetch(`${this.#baseUrl}${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
    });
    this.requests++;
    const type = res.headers.get("content-type") ?? "";
    const body = type.includes("json") ? await res.json() : (await res.arrayBuffer()).byteLength;
    return { status: res.status, body };
  }

  login(username: string, password: string, from: string): Promise<Reply> {
    return this.send("POST", "/login", from, { json: { username, password } });
  }

  /** Signs in and returns the session token; throws when the account does not let us in. */
  async session(username: string, from: string): Promise<string> {
    const seed = DEMO_USERS.find((u) => u.username === username);
    if (!seed) throw new Error(`no demo user ${username}`);
    const reply = await this.login(username, seed.password, from);
    const token = (reply.body as { token?: unknown }).token;
    if (reply.status !== 200 || typeof token !== "string") {
      throw new Error(`sign-in as ${username} failed with HTTP ${reply.status}`);
    }
    return token;
  }
}

const times = async (n: number, f: (i: number) => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < n; i++) await f(i);
};

export const ATTACKS: readonly Attack[] = [
  {
    id: "brute-force",
    description: "12 wrong passwords for one account from one address",
    expects: ["brute_force", "account_brute_force"],
    run: (c) => times(12, (i) => c.login("admin", `guess-${i}`, "203.0.113.10")),
  },
  {
    id: "credential-stuffing",
    description: "leaked pairs for 6 different accounts from one address",
    expects: ["credential_stuffing"],
    run: (c) => times(6, (i) => c.login(`leaked.user${i}@example.com`, "Summer2026!", "198.51.100.20")),
  },
  {
    id: "password-spray",
    description: "one common password against 22 accounts from one IPv6 /64 (rotating addresses)",
    expects: ["password_spray"],
    run: (c) =>
      times(22, (i) => c.login(`employee${i}`, "Welcome1!", `2001:db8:5:7::${(i + 1).toString(16)}`)),
  },
  {
    id: "failed-login-spike",
    description: "55 failed sign-ins from one address",
    expects: ["failed_login_spike"],
    run: (c) => times(55, (i) => c.login(`user${i % 4}`, `pw-${i}`, "203.0.113.40")),
  },
  {
    id: "account-takeover",
    description: "5 failures on bob's account from a botnet, then a success from the attacker",
    expects: ["account_takeover"],
    run: async (c) => {
      await times(5, (i) => c.login("bob", `guess-${i}`, `192.0.2.${50 + i}`));
      await c.session("bob", "192.0.2.99");
    },
  },
  {
    id: "api-scanning",
    description: "55 requests for paths that do not exist from one address",
    expects: ["api_scanning"],
    run: (c) =>
      times(55, (i) =>
        c.send(
          "GET",
          `/${["wp-admin", ".env", "phpmyadmin", "backup", "api/v0"][i % 5]}/${i}`,
          "203.0.113.60",
        ),
      ),
  },
  {
    id: "privilege-escalation",
    description: "a regular user tries admin routes 4 times",
    expects: ["privilege_escalation"],
    run: async (c) => {
      const sid = await c.session("alice", "198.51.100.70");
      await times(4, () => c.send("GET", "/admin/", "198.51.100.70", { session: sid }));
    },
  },
  {
    id: "data-exfiltration",
    description: "a signed-in user downloads 1.5 MB of reports in a minute",
    expects: ["data_exfiltration"],
    run: async (c) => {
      const sid = await c.session("alice", "198.51.100.80");
      await times(3, (i) => c.send("GET", `/download/r${i}?bytes=500000`, "198.51.100.80", { session: sid }));
    },
  },
  {
    id: "injection",
    description: "SQL injection, XSS and path traversal probes from one address",
    expects: ["injection_attempts"],
    run: (c) =>
      times(6, (i) =>
        c.send(
          "GET",
          `/search?q=${encodeURIComponent(["' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "1; DROP TABLE users", '"><img src=x onerror=alert(1)>', "..%2f..%2fwin.ini"][i]!)}`,
          "198.51.100.90",
        ),
      ),
  },
  {
    id: "data-access-surge",
    description: "a signed-in user reads 55 user profiles",
    expects: ["data_access_surge", "user_activity_surge"],
    run: async (c) => {
      const session = await c.session("alice", "198.51.100.110");
      await times(55, () => c.send("GET", `/users/u-alice`, "198.51.100.110", { session }));
    },
  },
];

/** Ordinary traffic: successful sign-ins and page views from office addresses. */
export async function baseline(c: AttackClient, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const from = `192.0.2.${10 + (i % 5)}`;
    const sid = await c.session("alice", from);
    await c.send("GET", "/me", from, { session: sid });
    await c.send("POST", "/logout", from, { session: sid });
  }
}
