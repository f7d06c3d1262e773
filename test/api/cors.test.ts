// The CORS allowlist (CORS_ORIGINS): preflights and answers for the listed
// origins only, never a reflected or wildcard origin, no credentials mode;
// the same through Caddy. The browser's own side is cors-browser.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { requestJson, type ClientOptions } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const ALLOWED = "https://chat.example.com";
const OTHER = "https://evil.example.net";
const PREFLIGHT = {
  "access-control-request-method": "POST",
  "access-control-request-headers": "authorization,content-type,last-event-id",
};

describe("CORS allowlist", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  beforeAll(async () => {
    stack = await startStack({
      env: { CORS_ORIGINS: `${ALLOWED},http://127.0.0.1:5173`, RATE_LIMIT_REQUESTS: "3", TRUSTED_PROXIES: "127.0.0.1" },
    });
    caddy = await startCaddy({ upstreams: [`127.0.0.1:${stack.apis[0]!.port}`] });
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  const api = (path: string) => `${stack.apis[0]!.url}${path}`;
  const viaCaddy = (path: string) => `https://localhost:${caddy.httpsPort}${path}`;
  const options = (headers: Record<string, string>): ClientOptions => ({ headers, ca: caddy.ca() });

  it("answers a preflight from an allowed origin with exactly what a browser client needs", async () => {
    const res = await requestJson("OPTIONS", api("/v1/conversations/x/messages"), undefined, {
      headers: { origin: ALLOWED, ...PREFLIGHT },
    });
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(res.headers["access-control-allow-methods"]).toBe("GET, POST, DELETE");
    expect(res.headers["access-control-allow-headers"]).toBe("Authorization, Content-Type, Last-Event-ID");
    expect(res.headers["access-control-max-age"]).toBe("600");
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it("gives another origin no CORS header at all: no reflection, no wildcard", async () => {
    const preflight = await requestJson("OPTIONS", api("/v1/conversations"), undefined, {
      headers: { origin: OTHER, ...PREFLIGHT },
    });
    expect(preflight.status).toBe(404);
    expect(preflight.body.error.code).toBe("not_found");
    const get = await requestJson("GET", api("/v1/conversations"), undefined, {
      headers: { origin: OTHER, authorization: `Bearer ${await tokenFor("cors-other")}` },
    });
    expect(get.status).toBe(200);
    for (const res of [preflight, get]) {
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
      expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    }
    // "null" (a sandboxed page, a file) is an origin like any other: not listed, not allowed.
    const nullOrigin = await requestJson("GET", api("/health"), undefined, { headers: { origin: "null" } });
    expect(nullOrigin.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("lets an allowed page read answers and refusals, with the headers it needs exposed", async () => {
    const ok = await requestJson("GET", api("/v1/conversations"), undefined, {
      headers: { origin: ALLOWED, authorization: `Bearer ${await tokenFor("cors-reader")}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(ok.headers["access-control-expose-headers"]).toBe(
      "Retry-After, X-Message-Id, Content-Location, Location, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy",
    );

    const unauthorized = await requestJson("GET", api("/v1/conversations"), undefined, {
      headers: { origin: ALLOWED },
    });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers["access-control-allow-origin"]).toBe(ALLOWED);

    const token = await tokenFor("cors-limited");
    let limited;
    for (let i = 0; i < 4; i++) {
      limited = await requestJson("GET", api("/v1/conversations"), undefined, {
        headers: { origin: ALLOWED, authorization: `Bearer ${token}` },
      });
    }
    expect(limited!.status).toBe(429);
    expect(limited!.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(Number(limited!.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("passes preflights and CORS headers through Caddy", async () => {
    const preflight = await requestJson(
      "OPTIONS",
      viaCaddy("/v1/conversations"),
      undefined,
      options({ origin: ALLOWED, ...PREFLIGHT }),
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(preflight.headers["access-control-allow-headers"]).toBe("Authorization, Content-Type, Last-Event-ID");

    const get = await requestJson(
      "GET",
      viaCaddy("/v1/conversations"),
      undefined,
      options({ origin: ALLOWED, authorization: `Bearer ${await tokenFor("cors-via-caddy")}` }),
    );
    expect(get.status).toBe(200);
    expect(get.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(get.headers["access-control-expose-headers"]).toMatch(/X-Message-Id/);

    const other = await requestJson(
      "OPTIONS",
      viaCaddy("/v1/conversations"),
      undefined,
      options({ origin: OTHER, ...PREFLIGHT }),
    );
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers no CORS at all without CORS_ORIGINS (the default)", async () => {
    const plain = await stack.startInstance({ CORS_ORIGINS: "" });
    const preflight = await requestJson("OPTIONS", `${plain.url}/v1/conversations`, undefined, {
      headers: { origin: ALLOWED, ...PREFLIGHT },
    });
    expect(preflight.status).toBe(404);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    const get = await requestJson("GET", `${plain.url}/health`, undefined, { headers: { origin: ALLOWED } });
    expect(get.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
