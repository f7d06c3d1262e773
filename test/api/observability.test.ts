// What an operator sees: Prometheus metrics, JSON logs without secrets, and
// OpenTelemetry traces sent to an OTLP/HTTP collector.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_JWT_SECRET, type RunningApi } from "../../scripts/loopback/api.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** A minimal OTLP/HTTP JSON collector. */
async function startCollector() {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, close: () => server.close() };
}

/** The first log line that matches, waiting for it: a line is written just after its response. */
async function waitForLine(api: RunningApi, match: (line: Record<string, unknown>) => boolean) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = api.logs().find(match);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no such log line in:\n${api.process.output.slice(-20).join("\n")}`);
    await sleep(50);
  }
}

describe("observability", () => {
  let stack: Stack;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  beforeAll(async () => {
    collector = await startCollector();
    stack = await startStack({ env: { TRACING_ENABLED: "true", TRACING_ENDPOINT: collector.url, LOG_LEVEL: "debug" } });
  });
  afterAll(async () => {
    await stack?.stop();
    collector?.close();
  });

  it("exposes Prometheus metrics for requests, streams, latency to first token and tokens", async () => {
    stack.llm.script({ kind: "stream", chunks: ["a", "b"], inputTokens: 11, outputTokens: 2 });
    const client = await stack.client("vera");
    const id = await client.createConversation();
    await (
      await client.send(id, "measure me")
    ).ended;
    const res = await requestJson("GET", `${stack.apis[0]!.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/v1\/conversations",status="201"\} 1/);
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/conversations\/:id\/messages"\} 1/,
    );
    expect(text).toMatch(/llm_requests_total\{provider="anthropic",model="claude-sonnet-4-6"\} 1/);
    expect(text).toMatch(/chat_time_to_first_token_seconds_count\{provider="anthropic",model="claude-sonnet-4-6"\} 1/);
    expect(text).toMatch(/llm_tokens_total\{provider="anthropic",model="claude-sonnet-4-6",direction="input"\} 11/);
    expect(text).toMatch(/llm_tokens_total\{provider="anthropic",model="claude-sonnet-4-6",direction="output"\} 2/);
    expect(text).toMatch(/^chat_active_streams 0$/m);
    expect(text).toMatch(/^nats_connected 1$/m);
    // One server: each stream's one copy, caught up and leading, read from JetStream at this scrape.
    expect(text).toMatch(/^nats_jetstream_stream_replicas\{stream="CONVERSATIONS"\} 1$/m);
    expect(text).toMatch(/^nats_jetstream_stream_replicas_current\{stream="CONVERSATIONS"\} 1$/m);
    expect(text).toMatch(/^nats_jetstream_stream_has_leader\{stream="KV_conversations"\} 1$/m);
    expect(text).toMatch(/^nats_jetstream_available 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it("sends a trace with the request span and the model call inside it, under the caller's trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const client = await stack.client("vera");
    const id = await client.createConversation();
    const stream = await client.send(id, "trace me", { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    await stream.ended;
    const deadline = Date.now() + 10_000;
    while (!collector.spans.some((s) => s.name === "llm.generate" && s.traceId === traceId) && Date.now() < deadline)
      await sleep(100);
    const request = collector.spans.find(
      (s) => s.traceId === traceId && s.name === "POST /v1/conversations/:id/messages",
    );
    const generate = collector.spans.find((s) => s.traceId === traceId && s.name === "llm.generate");
    expect(request).toBeDefined();
    expect(request!.parentSpanId).toBe("00f067aa0ba902b7");
    expect(generate!.parentSpanId).toBe(request!.spanId);
    expect(generate!.attributes.find((a) => a.key === "llm.provider")!.value).toEqual({ stringValue: "anthropic" });
  });

  it("logs JSON lines and never a credential", async () => {
    const api = stack.apis[0]!;
    const client = await stack.client("vera");
    await client.request("GET", "/v1/conversations", undefined, { headers: { cookie: "session=s3cr3t-cookie" } });
    await sleep(100);
    const lines = api.process.output;
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const all = lines.join("\n");
    for (const secret of [client.token, TEST_JWT_SECRET, stack.nats.token, stack.llm.apiKey, "s3cr3t-cookie"]) {
      expect(all).not.toContain(secret);
    }
  });

  it("logs one line for a request: method, path without query, route, status, time, IP, user, request id; no headers", async () => {
    const api = stack.apis[0]!;
    const client = await stack.client("walter");
    const id = await client.createConversation();
    const path = `/v1/conversations/${id}`;
    const res = await client.request("GET", `${path}?note=query-text`, undefined, {
      headers: { cookie: "session=another-s3cr3t", "x-api-key": "key-s3cr3t" },
    });
    expect(res.status).toBe(200);
    const line = await waitForLine(api, (l) => l.path === path);
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      method: "GET",
      route: "/v1/conversations/:id",
      status: 200,
      ip: "127.0.0.1",
      user: "walter",
    });
    expect(typeof line.ms).toBe("number");
    expect(line.reqId).toEqual(expect.any(String));
    expect(line).not.toHaveProperty("req");
    expect(line).not.toHaveProperty("headers");
    await sleep(200);
    // Nothing else about it: no "incoming request" line, no second line.
    expect(api.logs().filter((l) => JSON.stringify(l).includes(id))).toHaveLength(1);
    const all = api.process.output.join("\n");
    for (const text of ["query-text", "another-s3cr3t", "key-s3cr3t", client.token, "authorization", "Bearer"])
      expect(all).not.toContain(text);
  });

  it("logs a refused request at info, with no user", async () => {
    const api = stack.apis[0]!;
    const res = await requestJson("GET", `${api.url}/v1/conversations?refused=1`);
    expect(res.status).toBe(401);
    const line = await waitForLine(api, (l) => l.status === 401);
    expect(line).toMatchObject({ level: "info", msg: "request", path: "/v1/conversations" });
    expect(line).not.toHaveProperty("user");
  });

  it("logs nothing for health checks and scrapes that succeed", async () => {
    const api = stack.apis[0]!;
    for (let i = 0; i < 20; i++) expect((await requestJson("GET", `${api.url}/health`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await requestJson("GET", `${api.url}/metrics`)).status).toBe(200);
    // A request after them, whose line comes after any of theirs would.
    const client = await stack.client("yves");
    expect((await client.request("GET", "/v1/conversations")).status).toBe(200);
    await waitForLine(api, (l) => l.user === "yves");
    const probes = api.process.output.filter((l) => l.includes("/health") || l.includes("/metrics"));
    expect(probes).toEqual([]);
  });

  it("logs a line when a client leaves an answer it was streaming", async () => {
    const api = stack.apis[0]!;
    stack.llm.script({ kind: "stream", chunks: ["one ", "two ", "three"], delayMs: 300 });
    const client = await stack.client("xena");
    const id = await client.createConversation();
    const stream = await client.send(id, "start and leave");
    await stream.waitForEvents(1);
    stream.disconnect();
    const line = await waitForLine(api, (l) => l.msg === "request aborted by the client" && l.user === "xena");
    expect(line).toMatchObject({
      level: "info",
      method: "POST",
      route: "/v1/conversations/:id/messages",
      status: 200,
    });
  });

  it("logs a failing health check: a 503 while the instance drains", async () => {
    const draining = await stack.startInstance({ DRAIN_DELAY: "3s" });
    for (let i = 0; i < 5; i++) expect((await requestJson("GET", `${draining.url}/health`)).status).toBe(200);
    draining.process.signal("SIGTERM");
    await draining.process.waitFor(/now answers 503/);
    expect((await requestJson("GET", `${draining.url}/health`)).status).toBe(503);
    const line = await waitForLine(draining, (l) => l.path === "/health");
    expect(line).toMatchObject({ level: "warn", msg: "request", status: 503 });
    // The five that succeeded before it left no line.
    expect(draining.logs().filter((l) => l.path === "/health")).toHaveLength(1);
  });
});

describe("start-up configuration errors", () => {
  it.each([
    [
      { JWT_SECRET: "short" },
      /^configuration error: JWT_SECRET: is invalid \(5 characters\); generate one with: openssl rand -base64 32/,
    ],
    [{ NATS_URL: "" }, /^configuration error: NATS_URL: is not set; give the NATS URL/],
    [{ RATE_LIMIT_WINDOW: "soon" }, /^configuration error: RATE_LIMIT_WINDOW: is invalid \("soon"\); use a duration/],
    [
      { LLM_PROVIDER: "", ANTHROPIC_API_KEY: "" },
      /^configuration error: ANTHROPIC_API_KEY: no LLM provider is configured/,
    ],
    [{ TRACING_ENABLED: "true" }, /^configuration error: TRACING_ENDPOINT: is not set but TRACING_ENABLED is true/],
  ])("stops with one line naming the variable and the fix (%o)", async (override, expected) => {
    const { ManagedProcess } = await import("../../scripts/loopback/process.js");
    const { BUNDLE } = await import("../../scripts/loopback/api.js");
    const env = {
      PATH: process.env.PATH,
      NATS_URL: "nats://127.0.0.1:1",
      NATS_TOKEN: "0123456789abcdef0123",
      JWT_SECRET: TEST_JWT_SECRET,
      LLM_PROVIDER: "anthropic",
      ANTHROPIC_API_KEY: "k",
      ...override,
    };
    const proc = new ManagedProcess("api", process.execPath, [BUNDLE], { env });
    expect(await proc.exited).toBe(78);
    expect(proc.output).toHaveLength(1);
    expect(proc.output[0]).toMatch(expected);
  });
});
