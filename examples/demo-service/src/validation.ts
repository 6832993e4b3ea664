/** Input checks of the demo: they decide which `input.rule` a rejected value breaks. */
import { INPUT_RULE } from "@secmon/semconv";
import type { InputRule } from "@secmon/semconv";

const SQLI =
  /('|%27|")\s*(or|and)\s+[\w'"]+\s*(=|like)|\bunion\s+(all\s+)?select\b|;\s*(drop|delete|insert|update|alter)\s|--|\/\*|\bsleep\s*\(|\bor\s+1\s*=\s*1\b|'\s*;/i;
const XSS = /<\s*\/?\s*script|javascript\s*:|\bon[a-z]+\s*=|<\s*(img|svg|iframe)\b/i;
const PATH_TRAVERSAL = /\.\.[/\\]|%2e%2e(%2f|%5c|\/|\\)/i;
const COMMAND_INJECTION = /[;&|`]\s*(cat|ls|rm|curl|wget|sh|bash|nc|id|whoami)\b|\$\(/i;

/** The attack a value looks like, if any (checked in this order). */
export function attackRule(value: string): InputRule | undefined {
  if (SQLI.test(value)) return INPUT_RULE.SQLI;
  if (XSS.test(value)) return INPUT_RULE.XSS;
  if (PATH_TRAVERSAL.test(value)) return INPUT_RULE.PATH_TRAVERSAL;
  if (COMMAND_INJECTION.test(value)) return INPUT_RULE.COMMAND_INJECTION;
  return undefined;
}

/** Ids of the demo: letters, digits and dashes, 1 to 64 characters. */
export const ID_FORMAT = /^[A-Za-z0-9-]{1,64}$/;
