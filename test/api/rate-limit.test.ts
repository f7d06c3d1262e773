// RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW per client IP and per user, and a
// client IP that only a trusted proxy can set.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../harness/caddy.js";
import { ChatClient } from "../harness/chat-client.js";
import { requestJson } from "../harness/http-client.js";
import { startStack, type Stack } from "../harness/stack.js";
import { tokenFor } from "../harness/tokens.js";

const LIMIT = 5;

describe("rate limiting", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  beforeAll(async () => {
    // Only Caddy (which connects from 127.0.0.1) may set X-Forwarded-For;
    // test clients connect from other loopback addresses.
    stack = await startStack({
      env: { RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW: "1m", TRUSTED_PROXIES: "127.0.0.1" },
    });
    caddy = await startCaddy({ upstreams: [`127.0.0.1:${stack.apis[0]!.port}`] });
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  it("refuses the request after the limit with 429, Retry-After and RateLimit headers", async () => {
    const client = new ChatClient(stack.apis[0]!.url, await tokenFor("user-a"), { localAddress: "127.0.0.11" });
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < LIMIT + 1; i++) {
      last = await client.request("GET", "/v1/conversations");
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.body.error.code).toBe("rate_limited");
    expect(Number(last!.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(last!.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(last!.headers["ratelimit-limit"]).toBe(String(LIMIT));
    expect(last!.headers["ratelimit-remaining"]).toBe("0");
    expect(Number(last!.headers["ratelimit-reset"])).toBeGreaterThan(0);
  });

  it("does not let a client escape the IP limit with a forged X-Forwarded-For", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      // A new user each time, so only the IP limit can refuse.
      const res = await requestJson("GET", `${stack.apis[0]!.url}/v1/conversations`, undefined, {
        localAddress: "127.0.0.12",
        headers: { authorization: `Bearer ${await tokenFor(`spoofer-${i}`)}`, "x-forwarded-for": `203.0.113.${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(200));
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
  });

  it("does not let a client escape through Caddy with a forged X-Forwarded-For either", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      const res = await requestJson("GET", `https://localhost:${caddy.httpsPort}/v1/conversations`, undefined, {
        ca: caddy.ca(),
        localAddress: "127.0.0.13",
        headers: { authorization: `Bearer ${await tokenFor(`proxied-${i}`)}`, "x-forwarded-for": `198.51.100.${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(200));
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
  });

  it("limits a user across addresses", async () => {
    const token = await tokenFor("roaming-user");
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      const client = new ChatClient(stack.apis[0]!.url, token, { localAddress: `127.0.1.${i + 1}` });
      statuses.push((await client.request("GET", "/v1/conversations")).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("counts refusals in /metrics", async () => {
    const metrics = await requestJson("GET", `${stack.apis[0]!.url}/metrics`);
    expect(metrics.text).toMatch(/rate_limit_rejections_total\{scope="ip"\} [1-9]/);
    expect(metrics.text).toMatch(/rate_limit_rejections_total\{scope="user"\} [1-9]/);
  });
});
