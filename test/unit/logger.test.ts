// The API's log options: what a line may never show, whoever logs it.
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loggerOptions } from "../../app/src/observability/logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: pino(loggerOptions("info", "unit"), stream), text: () => lines.join("\n") };
}

const SECRET = "Bearer eyJ-very-secret";

describe("log options", () => {
  it("logs a request as method, path and IP: no headers, no query", () => {
    const { logger, text } = capture();
    const request = {
      method: "GET",
      url: "/v1/conversations?token=query-secret",
      ip: "203.0.113.7",
      headers: { authorization: SECRET, cookie: "session=cookie-secret" },
    };
    logger.error({ req: request }, "something failed");
    const line = JSON.parse(text()) as { req: unknown };
    expect(line.req).toEqual({ method: "GET", url: "/v1/conversations", ip: "203.0.113.7" });
    for (const secret of [SECRET, "query-secret", "cookie-secret"]) expect(text()).not.toContain(secret);
  });

  it("censors credential headers logged as plain objects, at the top or one level down", () => {
    const { logger, text } = capture();
    const headers = {
      authorization: SECRET,
      cookie: "session=cookie-secret",
      "x-api-key": "api-key-secret",
      "set-cookie": "session=set-secret",
      accept: "application/json",
    };
    logger.info({ headers }, "top");
    logger.info({ upstream: { headers } }, "nested");
    for (const secret of [SECRET, "cookie-secret", "api-key-secret", "set-secret"])
      expect(text()).not.toContain(secret);
    expect(text()).toContain('"accept":"application/json"');
    expect(text().match(/\[redacted\]/g)).toHaveLength(8);
  });

  it("censors fields named like secrets", () => {
    const { logger, text } = capture();
    logger.info({ config: { jwtSecret: "jwt-secret-value", natsToken: "nats-token-value", model: "m" } }, "config");
    expect(text()).not.toContain("jwt-secret-value");
    expect(text()).not.toContain("nats-token-value");
    expect(text()).toContain('"model":"m"');
  });
});
