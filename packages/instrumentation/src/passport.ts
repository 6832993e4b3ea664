/**
 * Passport.js integration: wraps a strategy so that its success and failure become `auth.login`
 * events. The identifier is read from the request field the strategy uses and only its hash is
 * sent; the password field is never read.
 */
import type { Request } from "express";
import { AUTH_FAILURE_REASON, AUTH_METHOD } from "@secmon/semconv";
import type { AuthFailureReason, AuthMethod } from "@secmon/semconv";
import { reportFault } from "./faults.ts";
import type { PassportOptions } from "./types.ts";

/** What a Passport strategy looks like to the wrapper. */
export interface StrategyLike {
  name?: string | undefined;
  authenticate(this: unknown, req: Request, options?: unknown): unknown;
}

/** Actions Passport attaches to the per-request strategy object before calling `authenticate`. */
interface StrategyActions {
  success?: (user: unknown, info?: unknown) => unknown;
  fail?: (challenge?: unknown, status?: unknown) => unknown;
}

const WRAPPED = Symbol.for("@secmon/instrumentation.passport");
const failureReasons: ReadonlySet<string> = new Set(Object.values(AUTH_FAILURE_REASON));

function methodOf(name: string | undefined): AuthMethod {
  switch (name) {
    case "local":
      return AUTH_METHOD.PASSWORD;
    case "oauth":
    case "oauth2":
      return AUTH_METHOD.OAUTH;
    case "openidconnect":
    case "oidc":
      return AUTH_METHOD.OIDC;
    case "saml":
      return AUTH_METHOD.SAML;
    default:
      return AUTH_METHOD.OTHER;
  }
}

/**
 * Default mapping of a strategy's failure info to a reason: an explicit `reason` (or `code`)
 * naming a spec reason wins; otherwise the message is read (`Missing credentials` is `other`;
 * unknown / not found user, locked, disabled, expired, MFA required); anything else is
 * `invalid_credentials`.
 */
export function defaultFailureReason(info: unknown): AuthFailureReason {
  let message = "";
  if (typeof info === "string") message = info;
  else if (typeof info === "object" && info !== null) {
    const { reason, code, message: text } = info as { reason?: unknown; code?: unknown; message?: unknown };
    for (const candidate of [reason, code]) {
      if (typeof candidate === "string" && failureReasons.has(candidate))
        return candidate as AuthFailureReason;
    }
    if (typeof text === "string") message = text;
  }
  if (/missing credentials/i.test(message)) return AUTH_FAILURE_REASON.OTHER;
  if (
    /unknown (user|account|e-?mail)|no such (user|account)|(user|account) not found|incorrect username/i.test(
      message,
    )
  ) {
    return AUTH_FAILURE_REASON.UNKNOWN_USER;
  }
  if (/locked/i.test(message)) return AUTH_FAILURE_REASON.ACCOUNT_LOCKED;
  if (/disabled|suspended|deactivated/i.test(message)) return AUTH_FAILURE_REASON.ACCOUNT_DISABLED;
  if (/expired/i.test(message)) return AUTH_FAILURE_REASON.PASSWORD_EXPIRED;
  if (/(mfa|two[- ]?factor|2fa|otp).*required/i.test(message)) return AUTH_FAILURE_REASON.MFA_REQUIRED;
  return AUTH_FAILURE_REASON.INVALID_CREDENTIALS;
}

/** Reads `a.b`, `a[b]` or `a` from an object (the forms passport-local accepts). */
function lookup(source: unknown, field: string): unknown {
  let value: unknown = source;
  for (const part of field.split(/[.[\]]+/).filter((p) => p !== "")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Wraps a Passport strategy (in place; returns it): `passport.use(instrumentStrategy(new
 * LocalStrategy(verify), { events }))`. Each `success` emits `auth.login` success with the user
 * id; each `fail` emits `auth.login` failure with a mapped reason. Strategy errors (`error`) are
 * not login outcomes and emit nothing. Never throws.
 */
export function instrumentStrategy<S extends StrategyLike>(strategy: S, options: PassportOptions): S {
  try {
    const original = strategy.authenticate;
    if (typeof original !== "function" || (original as { [WRAPPED]?: boolean })[WRAPPED] === true) {
      return strategy;
    }
    const { events } = options;
    const field =
      options.identifierField ?? (strategy as { _usernameField?: unknown })._usernameField ?? "username";
    const identifierField = typeof field === "string" ? field : "username";
    const method = options.method ?? methodOf(strategy.name);
    const mapFailure = options.failureReason ?? defaultFailureReason;
    const userIdOf =
      options.getUserId ??
      ((user: unknown) => {
        const id = (user as { id?: unknown } | null | undefined)?.id;
        return typeof id === "string" || typeof id === "number" ? id : undefined;
      });

    const identifierOf = (req: Request): string | undefined => {
      const value = lookup(req.body, identifierField) ?? lookup(req.query, identifierField);
      return typeof value === "string" ? value : undefined;
    };

    const wrapped = function instrumentedAuthenticate(
      this: StrategyActions,
      req: Request,
      authOptions?: unknown,
    ) {
      try {
        const success = this.success;
        const fail = this.fail;
        if (typeof success === "function") {
          this.success = function instrumentedSuccess(this: unknown, ...args: unknown[]) {
            try {
              let userId: string | number | undefined;
              try {
                userId = userIdOf(args[0]) ?? undefined;
              } catch (error) {
                reportFault("passport getUserId", error);
              }
              events.loginSuccess({ request: req, identifier: identifierOf(req), userId, method });
            } catch (error) {
              reportFault("passport success", error);
            }
            return success.apply(this, args as [unknown, unknown]);
          };
        }
        if (typeof fail === "function") {
          this.fail = function instrumentedFail(this: unknown, ...args: unknown[]) {
            try {
              let reason: AuthFailureReason = AUTH_FAILURE_REASON.OTHER;
              try {
                reason =
                  mapFailure(typeof args[0] === "number" ? undefined : args[0]) ?? AUTH_FAILURE_REASON.OTHER;
              } catch (error) {
                reportFault("passport failureReason", error);
              }
              events.loginFailure({ request: req, identifier: identifierOf(req), reason, method });
            } catch (error) {
              reportFault("passport fail", error);
            }
            return fail.apply(this, args as [unknown, unknown]);
          };
        }
      } catch (error) {
        reportFault("passport authenticate", error);
      }
      return original.call(this, req, authOptions);
    };
    Object.defineProperty(wrapped, WRAPPED, { value: true });
    strategy.authenticate = wrapped as S["authenticate"];
  } catch (error) {
    reportFault("passport instrumentStrategy", error);
  }
  return strategy;
}
