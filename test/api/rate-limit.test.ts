// RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW per client and per user, counted
// in NATS so that two instances enforce one limit and a restart forgets
// nothing; a client IP that only a trusted proxy can set, IPv6 clients
// counted by their /64; and each instance limiting on its own while NATS is
// down.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type RunningApi } from "../../scripts/loopback/api.js";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { requestJson, type JsonResponse } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const LIMIT = 5;
const FALLBACK_LOG = /NATS cannot answer for rate limits/;
const RESTORED_LOG = /rate limits are counted in NATS again/;

describe("rate limiting", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let fresh = 0;
  beforeAll(async () => {
    // Only Caddy and the tests that play a proxy (both connect from
    // 127.0.0.1) may set X-Forwarded-For; test clients connect from other
    // loopback addresses.
    stack = await startStack({
      instances: 2,
      env: {
        RATE_LIMIT_REQUESTS: String(LIMIT),
        // As low as the user limit, so each test below can reach either one.
        RATE_LIMIT_IP_REQUESTS: String(LIMIT),
        RATE_LIMIT_WINDOW: "1m",
        TRUSTED_PROXIES: "127.0.0.1",
      },
    });
    caddy = await startCaddy({ upstreams: [`127.0.0.1:${stack.apis[0]!.port}`] });
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  async function withNats<T>(use: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
    const nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
    try {
      return await use(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  }

  const bucketMaxAgeMs = () =>
    withNats(async (jsm) => (await jsm.streams.info("KV_rate-limits")).config.max_age / 1_000_000);

  /** One request as a user never seen before, so only the address limit can refuse it. */
  async function asNewUser(
    api: RunningApi,
    options: { localAddress?: string; forwardedFor?: string; path?: string } = {},
  ): Promise<JsonResponse> {
    return requestJson("GET", `${api.url}${options.path ?? "/v1/conversations"}`, undefined, {
      localAddress: options.localAddress,
      headers: {
        authorization: `Bearer ${await tokenFor(`fresh-user-${fresh++}`)}`,
        ...(options.forwardedFor ? { "x-forwarded-for": options.forwardedFor } : {}),
      },
    });
  }

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
    expect(last!.headers["ratelimit-policy"]).toBe(`${LIMIT};w=60`);
  });

  it("does not let a client escape the IP limit with a forged X-Forwarded-For", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      const res = await asNewUser(stack.apis[0]!, { localAddress: "127.0.0.12", forwardedFor: `203.0.113.${i}` });
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

  it("enforces one address limit across both instances", async () => {
    const [a, b] = stack.apis as [RunningApi, RunningApi];
    const responses: JsonResponse[] = [];
    // Alternating a, b, a, b, a: the sixth (on b) and seventh (on a) are refused.
    for (let i = 0; i < LIMIT + 2; i++) {
      responses.push(await asNewUser(i % 2 === 0 ? a : b, { localAddress: "127.0.0.21" }));
    }
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(responses.map((r) => r.headers["ratelimit-remaining"])).toEqual(["4", "3", "2", "1", "0", "0", "0"]);
  });

  it("allows exactly the limit when a client's requests reach both instances at once", async () => {
    const [a, b] = stack.apis as [RunningApi, RunningApi];
    // Compare-and-set: of 4 x LIMIT racing requests, exactly LIMIT win a count.
    const responses = await Promise.all(
      Array.from({ length: 4 * LIMIT }, (_, i) => asNewUser(i % 2 === 0 ? a : b, { localAddress: "127.0.0.24" })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3 * LIMIT);
  });

  it("enforces one user limit across both instances, starting the refusals on either", async () => {
    const [a, b] = stack.apis as [RunningApi, RunningApi];
    const token = await tokenFor("two-instance-user");
    const statuses: number[] = [];
    // b, a, b, a, b, then a refuses: the other parity from the test above.
    for (let i = 0; i < LIMIT + 2; i++) {
      const api = i % 2 === 0 ? b : a;
      const client = new ChatClient(api.url, token, { localAddress: `127.0.2.${i + 1}` });
      statuses.push((await client.request("GET", "/v1/conversations")).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it("counts refusals in /metrics", async () => {
    const metrics = await requestJson("GET", `${stack.apis[0]!.url}/metrics`);
    expect(metrics.text).toMatch(/rate_limit_rejections_total\{scope="ip"\} [1-9]/);
    expect(metrics.text).toMatch(/rate_limit_rejections_total\{scope="user"\} [1-9]/);
  });

  it("keeps the counters when the instances restart, and applies a changed window to the bucket", async () => {
    const before: number[] = [];
    for (let i = 0; i < 3; i++)
      before.push((await asNewUser(stack.apis[i % 2]!, { localAddress: "127.0.0.22" })).status);
    expect(before).toEqual([200, 200, 200]);
    expect(await bucketMaxAgeMs()).toBe(60_000 + 5_000);

    // One after the other, as a deploy does, with a longer window.
    for (const index of [0, 1]) {
      const old = stack.apis[index]!;
      await old.stop();
      // The same id and port, so Caddy's upstream is this instance again.
      stack.apis[index] = await startApi({
        ...stack.env,
        RATE_LIMIT_WINDOW: "2m",
        INSTANCE_ID: `api-${index + 1}`,
        SERVER_PORT: String(old.port),
      });
    }

    const after: JsonResponse[] = [];
    for (let i = 0; i < 3; i++) after.push(await asNewUser(stack.apis[i % 2]!, { localAddress: "127.0.0.22" }));
    // 3 + 2 = LIMIT: counters kept in memory would have started again at 0.
    expect(after.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(after[0]!.headers["ratelimit-policy"]).toBe(`${LIMIT};w=120`);
    expect(await bucketMaxAgeMs()).toBe(120_000 + 5_000);
  });

  it("creates the bucket again when NATS has lost it, limiting from memory meanwhile", async () => {
    const [a, b] = stack.apis as [RunningApi, RunningApi];
    const seen = [a.logs().length, b.logs().length];
    await withNats((jsm) => jsm.streams.delete("KV_rate-limits"));

    // At most RETRY_SHARED_MS (2 s) from memory, then one request creates it again.
    const deadline = Date.now() + 15_000;
    let address = 0;
    for (;;) {
      const statuses = await Promise.all([a, b].map((api) => asNewUser(api, { localAddress: `127.0.3.${++address}` })));
      expect(statuses.map((r) => r.status)).toEqual([200, 200]);
      if (
        await withNats((jsm) =>
          jsm.streams.info("KV_rate-limits").then(
            () => true,
            () => false,
          ),
        )
      )
        break;
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(200);
    }
    // Let the other instance's next request find it too.
    await sleep(2_500);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      statuses.push((await asNewUser(i % 2 === 0 ? a : b, { localAddress: "127.0.0.23" })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(
      a
        .logs()
        .slice(seen[0])
        .filter((line) => FALLBACK_LOG.test(String(line.msg))),
    ).toHaveLength(1);
    expect(
      a
        .logs()
        .slice(seen[0])
        .filter((line) => RESTORED_LOG.test(String(line.msg))),
    ).toHaveLength(1);
  });

  it("counts the addresses of one IPv6 /64 as one client, and other /64s apart", async () => {
    const api = stack.apis[0]!;
    const statuses: number[] = [];
    // From 127.0.0.1, a trusted proxy: the client is the forwarded address.
    for (let i = 0; i < LIMIT + 1; i++) {
      statuses.push((await asNewUser(api, { forwardedFor: `2001:db8:1:2::${(i + 1).toString(16)}:${i}` })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await asNewUser(api, { forwardedFor: "2001:db8:1:2:ffff:ffff:ffff:ffff" })).status).toBe(429);
    expect((await asNewUser(api, { forwardedFor: "2001:db8:1:3::1" })).status).toBe(200);
    expect((await asNewUser(api, { forwardedFor: "2001:db8:2:2::1" })).status).toBe(200);
  });

  it("counts an IPv4-mapped address as that IPv4 address, not as its /64", async () => {
    const api = stack.apis[0]!;
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push((await asNewUser(api, { forwardedFor: "::ffff:192.0.2.7" })).status);
    expect(statuses).toEqual(Array(LIMIT).fill(200));
    expect((await asNewUser(api, { forwardedFor: "192.0.2.7" })).status).toBe(429);
    expect((await asNewUser(api, { forwardedFor: "::ffff:192.0.2.8" })).status).toBe(200);
  });

  it("limits each instance from its own memory while NATS is down, and shares the limit again after", async () => {
    const nats = stack.nats.nodes[0]!;
    const [a, b] = stack.apis as [RunningApi, RunningApi];
    const seen = [a.logs().length, b.logs().length];
    await nats.stop();
    try {
      await Promise.all([waitForHealth(a, 503), waitForHealth(b, 503)]);
      // A malformed id is refused by the route's schema, after the limits
      // and without waiting for the store.
      const path = "/v1/conversations/not-a-conversation-id";
      for (const api of [a, b]) {
        const statuses: number[] = [];
        for (let i = 0; i < LIMIT + 1; i++) {
          statuses.push((await asNewUser(api, { localAddress: "127.0.0.31", path })).status);
        }
        expect(statuses.slice(0, LIMIT)).not.toContain(429);
        expect(statuses[LIMIT]).toBe(429);
      }
    } finally {
      await nats.start();
    }
    await Promise.all([waitForHealth(a, 200), waitForHealth(b, 200)]);

    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      statuses.push((await asNewUser(i % 2 === 0 ? a : b, { localAddress: "127.0.0.32" })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    for (const [i, api] of [a, b].entries()) {
      // Reported once for the whole outage, however many requests it met.
      const logs = api.logs().slice(seen[i]);
      expect(logs.filter((line) => FALLBACK_LOG.test(String(line.msg)))).toHaveLength(1);
      expect(logs.filter((line) => RESTORED_LOG.test(String(line.msg)))).toHaveLength(1);
    }
  });
});

async function waitForHealth(api: RunningApi, status: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await requestJson("GET", `${api.url}/health`).catch(() => undefined);
    if (res?.status === status) return;
    if (Date.now() > deadline) throw new Error(`${api.url}/health did not answer ${status}; last: ${res?.status}`);
    await sleep(100);
  }
}
