/** In-memory users with scrypt password hashes (node:crypto), for the demo only. */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export type Role = "user" | "admin";

export interface DemoUserSeed {
  readonly id: string;
  readonly username: string;
  readonly password: string;
  readonly role: Role;
  /** Base32 TOTP secret; users with one must pass a second factor. */
  readonly totpSecret?: string | undefined;
}

export interface DemoUser {
  readonly id: string;
  readonly username: string;
  role: Role;
  readonly totpSecret: string | undefined;
  salt: Buffer;
  passwordHash: Buffer;
  failures: number;
  locked: boolean;
}

/**
 * The demo's accounts. Their passwords are public on purpose: the attack simulator and the tests
 * sign in with them.
 */
export const DEMO_USERS: readonly DemoUserSeed[] = Object.freeze([
  { id: "u-alice", username: "alice", password: "correct horse battery staple", role: "user" },
  { id: "u-bob", username: "bob", password: "Tr0ub4dor&3", role: "user" },
  { id: "u-admin", username: "admin", password: "admin-demo-password", role: "admin" },
  {
    id: "u-carol",
    username: "carol",
    password: "carol-demo-password",
    role: "user",
    totpSecret: "JBSWY3DPEHPK3PXP",
  },
]);

const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, cost: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 * 2 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export class UserStore {
  readonly #byName = new Map<string, DemoUser>();
  readonly #byId = new Map<string, DemoUser>();
  readonly #cost: number;
  /** A hash to verify against for unknown users, so both paths take as long. */
  #decoy: { salt: Buffer; hash: Buffer } | undefined;

  constructor(cost: number) {
    this.#cost = cost;
  }

  async hashPassword(password: string): Promise<{ salt: Buffer; hash: Buffer }> {
    const salt = randomBytes(16);
    return { salt, hash: await derive(password, salt, this.#cost) };
  }

  async add(seed: DemoUserSeed): Promise<DemoUser> {
    const { salt, hash } = await this.hashPassword(seed.password);
    const user: DemoUser = {
      id: seed.id,
      username: seed.username.toLowerCase(),
      role: seed.role,
      totpSecret: seed.totpSecret,
      salt,
      passwordHash: hash,
      failures: 0,
      locked: false,
    };
    this.#byName.set(user.username, user);
    this.#byId.set(user.id, user);
    return user;
  }

  byName(username: string): DemoUser | undefined {
    return this.#byName.get(username.trim().toLowerCase());
  }

  byId(id: string): DemoUser | undefined {
    return this.#byId.get(id);
  }

  all(): DemoUser[] {
    return [...this.#byId.values()];
  }

  async setPassword(user: DemoUser, password: string): Promise<void> {
    const { salt, hash } = await this.hashPassword(password);
    user.salt = salt;
    user.passwordHash = hash;
  }

  /** Checks a password; for an unknown user, burns the same time and answers false. */
  async verify(user: DemoUser | undefined, password: string): Promise<boolean> {
    if (user === undefined) {
      this.#decoy ??= await this.hashPassword(randomBytes(16).toString("hex"));
      await derive(password, this.#decoy.salt, this.#cost);
      return false;
    }
    const candidate = await derive(password, user.salt, this.#cost);
    return timingSafeEqual(candidate, user.passwordHash);
  }
}
