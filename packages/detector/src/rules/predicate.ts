import { BlockList } from "node:net";
import type { AttrValue, SecurityEvent } from "../event.ts";
import { attributeReader, canonicalAddress, toNumber } from "./attributes.ts";
import type { PredicateOps, Where } from "./language.ts";

/** A compiled condition on one event. */
export type EventPredicate = (event: SecurityEvent) => boolean;
/** A compiled condition on one attribute value (undefined when the attribute is missing). */
type ValueTest = (v: AttrValue | undefined) => boolean;

export const ALWAYS: EventPredicate = () => true;

type Scalar = string | number | boolean;

/** Whether one scalar attribute value equals a rule literal (numbers compare numerically). */
function scalarEquals(literal: Scalar): (v: Scalar) => boolean {
  if (typeof literal === "number") return (v) => toNumber(v) === literal;
  if (typeof literal === "boolean") return (v) => v === literal || v === String(literal);
  return (v) => v === literal || (typeof v !== "string" && String(v) === literal);
}

/** Whether one scalar is in a set of literals. */
function scalarIn(literals: readonly Scalar[]): (v: Scalar) => boolean {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  for (const l of literals) {
    if (typeof l === "number") numbers.add(l);
    else strings.add(String(l));
  }
  return (v) => {
    if (typeof v === "string") {
      if (strings.has(v)) return true;
      if (numbers.size === 0) return false;
      const n = toNumber(v);
      return n !== undefined && numbers.has(n);
    }
    if (typeof v === "number") return numbers.has(v) || strings.has(String(v));
    return strings.has(String(v));
  };
}

function isScalar(v: AttrValue | undefined): v is Scalar {
  return v !== undefined && typeof v !== "object";
}

function compileOps(ops: PredicateOps): ValueTest {
  const tests: ValueTest[] = [];
  if (ops.equals !== undefined) {
    const eq = scalarEquals(ops.equals);
    tests.push((v) => isScalar(v) && eq(v));
  }
  if (ops.in !== undefined) {
    const inSet = scalarIn(ops.in);
    tests.push((v) => isScalar(v) && inSet(v));
  }
  if (ops.contains !== undefined) {
    const eq = scalarEquals(ops.contains);
    tests.push((v) => {
      if (v === undefined) return false;
      if (typeof v === "object") return v.some(eq);
      return eq(v);
    });
  }
  const numeric = (cmp: (n: number) => boolean): ValueTest => {
    return (v) => {
      const n = toNumber(v);
      return n !== undefined && cmp(n);
    };
  };
  if (ops.gt !== undefined) {
    const x = ops.gt;
    tests.push(numeric((n) => n > x));
  }
  if (ops.gte !== undefined) {
    const x = ops.gte;
    tests.push(numeric((n) => n >= x));
  }
  if (ops.lt !== undefined) {
    const x = ops.lt;
    tests.push(numeric((n) => n < x));
  }
  if (ops.lte !== undefined) {
    const x = ops.lte;
    tests.push(numeric((n) => n <= x));
  }
  if (ops.exists !== undefined) {
    const want = ops.exists;
    tests.push((v) => (v !== undefined && v !== "") === want);
  }
  if (ops.cidr !== undefined) tests.push(cidrTest(typeof ops.cidr === "string" ? [ops.cidr] : ops.cidr));
  if (ops.not !== undefined) {
    const inner = compileOps(ops.not);
    tests.push((v) => !inner(v));
  }
  if (tests.length === 1) return tests[0]!;
  return (v) => {
    for (const t of tests) if (!t(v)) return false;
    return true;
  };
}

/** Membership of an address in CIDRs (validated by the schema), through node:net BlockList. */
function cidrTest(cidrs: readonly string[]): ValueTest {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", bits] = cidr.split("/");
    const canonical = canonicalAddress(address);
    if (!canonical) continue;
    const type = canonical.family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(canonical.address, type);
    else {
      // An IPv4-mapped IPv6 network ::ffff:a.b.c.d/n (n ≥ 96) is the IPv4 network a.b.c.d/(n − 96).
      const isMapped = canonical.family === 4 && address.includes(":");
      list.addSubnet(canonical.address, isMapped ? Math.max(0, Number(bits) - 96) : Number(bits), type);
    }
  }
  return (v) => {
    if (typeof v !== "string") return false;
    const canonical = canonicalAddress(v);
    if (!canonical) return false;
    return list.check(canonical.address, canonical.family === 4 ? "ipv4" : "ipv6");
  };
}

/** One attribute's predicate: a scalar is shorthand for `equals`. */
export function compileValueTest(predicate: Scalar | PredicateOps): ValueTest {
  return typeof predicate === "object" ? compileOps(predicate) : compileOps({ equals: predicate });
}

/** A `where` block as one closure: every clause must hold. */
export function compileWhere(where: Where | undefined): EventPredicate {
  if (!where) return ALWAYS;
  const clauses = Object.entries(where).map(([name, predicate]) => {
    const read = attributeReader(name);
    const test = compileValueTest(predicate);
    return (e: SecurityEvent) => test(read(e));
  });
  if (clauses.length === 0) return ALWAYS;
  if (clauses.length === 1) return clauses[0]!;
  if (clauses.length === 2) {
    const [a, b] = clauses as [EventPredicate, EventPredicate];
    return (e) => a(e) && b(e);
  }
  return (e) => {
    for (const c of clauses) if (!c(e)) return false;
    return true;
  };
}

/** A `where` block as text, for the reference doc and `describe()`. */
export function whereText(where: Where | undefined): string {
  if (!where || Object.keys(where).length === 0) return "";
  return Object.entries(where)
    .map(([name, p]) => `${name} ${opsText(typeof p === "object" ? p : { equals: p })}`)
    .join(" and ");
}

function opsText(ops: PredicateOps): string {
  const out: string[] = [];
  const lit = (v: unknown) => JSON.stringify(v);
  if (ops.equals !== undefined) out.push(`= ${lit(ops.equals)}`);
  if (ops.in !== undefined) out.push(`in [${ops.in.map(lit).join(", ")}]`);
  if (ops.contains !== undefined) out.push(`contains ${lit(ops.contains)}`);
  if (ops.gt !== undefined) out.push(`> ${ops.gt}`);
  if (ops.gte !== undefined) out.push(`>= ${ops.gte}`);
  if (ops.lt !== undefined) out.push(`< ${ops.lt}`);
  if (ops.lte !== undefined) out.push(`<= ${ops.lte}`);
  if (ops.exists !== undefined) out.push(ops.exists ? "exists" : "is missing");
  if (ops.cidr !== undefined) out.push(`in cidr ${[ops.cidr].flat().join(", ")}`);
  if (ops.not !== undefined) out.push(`not (${opsText(ops.not)})`);
  return out.join(" and ");
}
