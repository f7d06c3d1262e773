// /health under a flood and in public: answered from a reading of the store
// taken at most once a second (counted at NATS, where every JetStream API
// request shows), telling anyone only the bare status; the details are on
// /health/details, which refuses anything that came through a proxy.
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

const FLOOD_MS = 5_000;
const FLOOD_CLIENTS = 16;
/** Bounds the flood whatever the machine's speed. */
const FLOOD_MAX_REQUESTS = 20_000;

describe("/health", () => {
  let stack: Stack;
  let nc: NatsConnection;
  beforeAll(async () => {
    stack = await startStack();
    nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  it("costs JetStream at most one API request a second however hard it is flooded", async () => {
    const url = `${stack.apis[0]!.url}/health`;
    // Core NATS delivers a copy of every JetStream API request to this subscriber.
    const requests: string[] = [];
    const watch = nc.subscribe("$JS.API.>", { callback: (_err, msg) => void requests.push(msg.subject) });
    await nc.flush();
    const startedAt = Date.now();
    let answered = 0;
    const statuses = new Set<number>();
    await Promise.all(
      Array.from({ length: FLOOD_CLIENTS }, async () => {
        while (Date.now() - startedAt < FLOOD_MS && answered < FLOOD_MAX_REQUESTS) {
          const res = await requestJson("GET", url);
          statuses.add(res.status);
          answered++;
        }
      }),
    );
    const seconds = (Date.now() - startedAt) / 1000;
    await nc.flush();
    watch.unsubscribe();

    console.log(
      `/health flood: ${answered} answers in ${seconds.toFixed(1)} s, ${requests.length} JetStream API requests`,
    );
    expect([...statuses]).toEqual([200]);
    expect(answered).toBeGreaterThan(200);
    // One reading at the start, then at most one a second.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(new Set(requests)).toEqual(new Set(["$JS.API.STREAM.LIST"]));
  }, 60_000);

  it("tells anyone only the bare status, and the host the details", async () => {
    const api = stack.apis[0]!;
    const bare = await requestJson("GET", `${api.url}/health`);
    expect(bare.status).toBe(200);
    expect(bare.body).toEqual({ status: "ok" });

    const details = await requestJson("GET", `${api.url}/health/details`);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({
      status: "ok",
      nats: "connected",
      provider: "anthropic",
      instance: "api-1",
      activeGenerations: 0,
      storage: { state: "ok", limitBytes: expect.any(Number), readAt: expect.any(String) },
    });
    expect(Date.now() - Date.parse(details.body.storage.readAt)).toBeLessThan(60_000);

    // Whatever came through a proxy is refused, should a proxy forward the path.
    const forwarded: Array<Record<string, string>> = [
      { "x-forwarded-for": "203.0.113.9" },
      { forwarded: "for=203.0.113.9" },
    ];
    for (const headers of forwarded) {
      const proxied = await requestJson("GET", `${api.url}/health/details`, undefined, { headers });
      expect(proxied.status).toBe(404);
      expect(proxied.text).not.toContain("api-1");
    }
  });

  it("says unavailable (503) at once while NATS is away, and ok again after", async () => {
    const api = stack.apis[0]!;
    await stack.nats.nodes[0]!.stop();
    try {
      const deadline = Date.now() + 15_000;
      let res = await requestJson("GET", `${api.url}/health`);
      while (res.status !== 503 && Date.now() < deadline) {
        await sleep(100);
        res = await requestJson("GET", `${api.url}/health`);
      }
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: "unavailable" });
      const details = await requestJson("GET", `${api.url}/health/details`);
      expect(details.body).toMatchObject({ status: "unavailable", reason: "nats_unreachable", nats: "disconnected" });
    } finally {
      await stack.nats.nodes[0]!.start();
    }
    const deadline = Date.now() + 20_000;
    while ((await requestJson("GET", `${api.url}/health`)).status !== 200) {
      if (Date.now() > deadline) throw new Error("/health did not come back to 200");
      await sleep(200);
    }
  }, 60_000);
});
