import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { showableAttributes, toSample } from "../../src/alerts/sample.ts";
import type { SecurityEvent } from "../../src/event.ts";

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

function event(attributes: SecurityEvent["attributes"]): SecurityEvent {
  return { name: EVENT.AUTH_LOGIN, time: 1_700_000_000_000, service: "svc", attributes, resource: {} };
}

describe("alert samples and the events API", () => {
  it("leave out what names or holds a credential, from any sender", () => {
    const sample = toSample(
      event({
        [ATTR.CLIENT_ADDRESS]: "203.0.113.9",
        [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
        [ATTR.SESSION_ID]: "9f86d081884c7d659a2feaa0c55ad015",
        password: "hunter2",
        "http.request.header.authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "http.request.header.cookie": "sid=abc123; theme=dark",
        note: `Bearer ${JWT}`,
        callback: "https://user:pa55w0rd@example.com/hook",
        tags: ["ok", JWT],
        [JWT]: 1,
        "http.response.status_code": 401,
      }),
    );
    expect(sample.attributes).toEqual({
      [ATTR.CLIENT_ADDRESS]: "203.0.113.9",
      [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
      [ATTR.SESSION_ID]: "9f86d081884c7d659a2feaa0c55ad015",
      "http.response.status_code": 401,
    });
    expect(JSON.stringify(sample)).not.toMatch(/hunter2|YWxhZGRp|abc123|pa55w0rd|eyJhbGci/);
  });

  it("keep the spec's attributes and the event's object when nothing is left out", () => {
    const attributes = {
      [ATTR.CLIENT_ADDRESS]: "2001:db8::1",
      [ATTR.AUTH_METHOD]: "password",
      [ATTR.USER_HASH]: "0123456789abcdef0123456789abcdef",
      [ATTR.USER_AGENT_ORIGINAL]: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
      [ATTR.URL_PATH]: "/api/users/42",
    };
    expect(showableAttributes(attributes)).toBe(attributes);
  });

  it("do not let a key named __proto__ change the copy's prototype", () => {
    const attributes = JSON.parse('{"__proto__": "x", "password": "p"}') as SecurityEvent["attributes"];
    const shown = showableAttributes(attributes);
    expect(Object.getPrototypeOf(shown)).toBe(Object.prototype);
    expect(Object.keys(shown)).toEqual(["__proto__"]);
  });
});
