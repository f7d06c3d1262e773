// The chat flow through the project's real Caddyfile and a real Caddy, over
// HTTPS with a local CA: events must reach the client one by one, even when
// the client accepts gzip (Caddy's encode would otherwise buffer them).
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { requestJson, type SseStream } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

describe("through Caddy", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let client: ChatClient;
  beforeAll(async () => {
    stack = await startStack({ instances: 2 });
    caddy = await startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) });
    client = new ChatClient(`https://localhost:${caddy.httpsPort}`, await tokenFor("ivy"), {
      ca: caddy.ca(),
      headers: { "accept-encoding": "gzip, deflate, br, zstd" },
    });
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  it("delivers each event as it is generated, uncompressed", async () => {
    // Each event is larger than Caddy's 512-byte minimum for compression.
    const chunks = ["alpha", "beta", "gamma", "delta", "epsilon"].map((w) => `${w} `.repeat(120));
    // In lockstep: the model generates a chunk only once the client holds the
    // one before. A proxy that buffered would hold that one back; each chunk
    // then waits out its bound and is counted. No clock decides, so load
    // cannot make it pass or fail.
    let stream: SseStream | undefined = undefined;
    const deltasReceived = () => stream?.events.filter((e) => e.event === "delta").length ?? 0;
    const heldBack: number[] = [];
    const previousDelivered = async (index: number) => {
      const deadline = Date.now() + 10_000;
      while (deltasReceived() < index) {
        if (Date.now() > deadline) return heldBack.push(index - 1);
        await sleep(10);
      }
    };
    stack.llm.script({ kind: "stream", chunks, delayMs: 0, beforeChunk: previousDelivered });
    const id = await client.createConversation();
    stream = await client.send(id, "stream through the proxy");
    await stream.ended;

    expect(stream.status).toBe(200);
    expect(stream.headers["content-encoding"]).toBeUndefined();
    expect(textOf(stream)).toBe(chunks.join(""));
    expect(heldBack, "deltas that did not reach the client before the next chunk was generated").toEqual([]);
  }, 120_000);

  it("compresses JSON, sets security headers and hides /metrics", async () => {
    // Enough conversations that the list is worth compressing (> 512 bytes).
    for (let i = 0; i < 8; i++) await client.createConversation(`conversation number ${i}`);
    const list = await client.request("GET", "/v1/conversations");
    expect(list.status).toBe(200);
    expect(list.headers["content-encoding"]).toMatch(/zstd|gzip/);
    expect(list.headers["strict-transport-security"]).toContain("max-age=31536000");
    expect(list.headers["x-content-type-options"]).toBe("nosniff");
    expect(list.headers["server"]).toBeUndefined();

    const metrics = await requestJson("GET", `https://localhost:${caddy.httpsPort}/metrics`, undefined, {
      ca: caddy.ca(),
    });
    expect(metrics.status).toBe(404);
    const health = await requestJson("GET", `https://localhost:${caddy.httpsPort}/health`, undefined, {
      ca: caddy.ca(),
    });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok" });
  });

  it("never lets the health details out, however the path is spelt", async () => {
    // As sent: Node's URL parser leaves case, escapes and doubled slashes alone.
    const paths = [
      "/health/details",
      "/HEALTH/DETAILS",
      "/Health/Details",
      "/health/details/",
      "/health/details?x=1",
      "/health%2Fdetails",
      "/health%2fdetails",
      "/%68ealth/details",
      "//health/details",
      "/health//details",
      "/health/details%00",
      "/health/details;x",
    ];
    for (const path of paths) {
      const res = await requestJson("GET", `https://localhost:${caddy.httpsPort}${path}`, undefined, {
        ca: caddy.ca(),
      });
      expect({ path, status: res.status }).not.toEqual({ path, status: 200 });
      for (const detail of ["api-1", "api-2", "instance", "provider", "storage"]) {
        expect(res.text, `${path}: ${detail}`).not.toContain(detail);
      }
    }
  });

  it("writes a JSON access log", async () => {
    const lines = caddy
      .accessLog()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { request: { uri: string }; status: number });
    expect(lines.some((l) => l.request.uri === "/v1/conversations" && l.status === 200)).toBe(true);
  });
});
