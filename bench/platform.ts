// The system under test and its baselines, all on loopback: a fake model
// provider that streams tokens at a fixed pace (Anthropic's exact wire
// format), real NATS JetStream, two API instances running the built bundle
// (as production runs two), the project's Caddyfile in front of them, and a
// second Caddy straight in front of the fake (the proxy's own cost).
import { startCaddy, type RunningCaddy } from "../scripts/loopback/caddy.js";
import type { FakeReply } from "../scripts/loopback/fake-llm.js";
import { startStack, type Stack } from "../scripts/loopback/stack.js";
import { tokenFor } from "../scripts/loopback/tokens.js";
import { requestJson, type keepAliveAgents, type StreamTarget } from "./sse-load.js";

export interface Platform {
  stack: Stack;
  /** Caddy -> API instances -> fake. */
  full: RunningCaddy;
  /** Caddy -> fake. */
  proxyOnly: RunningCaddy;
  token: string;
  /** What the fake streams for each request from now on; a gap of 0: as fast as it can. */
  setReply(tokens: number, gapMs: number): void;
  /** Process ids, for CPU and memory. */
  pids: { apis: number[]; caddy: number; proxyOnlyCaddy: number; nats: number[] };
  stop(): Promise<void>;
}

/** `nodeArgs`: before the bundle on the API instances' command line, e.g. --cpu-prof. */
export async function startPlatform(nodeArgs: string[] = []): Promise<Platform> {
  const stack = await startStack({
    instances: 2,
    nodeArgs,
    env: {
      // The load is one user's: no rate limit or cap on answers in progress
      // in the way. Everything else as production runs it (logs at info
      // included; the limits still cost their round trips).
      RATE_LIMIT_REQUESTS: "100000000",
      MAX_ACTIVE_ANSWERS_PER_USER: "100000",
      // Nor its token budget or storage quota: set (so they cost their round
      // trips, as in production) but out of reach.
      USER_INPUT_TOKENS_PER_WINDOW: "1000000000000",
      USER_OUTPUT_TOKENS_PER_WINDOW: "1000000000000",
      USER_MAX_STORED_BYTES: "1000GB",
      // Only the end of the run: stop at once (answers still streaming are the
      // held ones), so a CPU profile is written before the harness kills it.
      DRAIN_DELAY: "0s",
      SHUTDOWN_GRACE: "1s",
      GENERATION_LEASE: "30s",
    },
  });
  const [full, proxyOnly] = await Promise.all([
    startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) }),
    startCaddy({ upstreams: [new URL(stack.llm.url).host] }),
  ]);
  return {
    stack,
    full,
    proxyOnly,
    token: await tokenFor("bench-user", { expiresIn: "6h" }),
    setReply(tokens, gapMs) {
      const reply: FakeReply = {
        kind: "stream",
        chunks: Array.from({ length: tokens }, (_, i) => `t${i} `),
        delayMs: gapMs,
        ...(gapMs === 0 ? { pace: "immediate" as const } : {}),
      };
      stack.llm.setDefault(reply);
    },
    pids: {
      apis: stack.apis.map((a) => a.process.pid),
      caddy: full.pid,
      proxyOnlyCaddy: proxyOnly.pid,
      nats: stack.nats.nodes.map((n) => n.pid),
    },
    async stop() {
      await Promise.all([full.stop(), proxyOnly.stop()]);
      await stack.stop();
    },
  };
}

const QUESTION = JSON.stringify({ content: "What is a benchmark?" });

/** A new message in `conversation`, through Caddy and the API. */
export function chatTarget(platform: Platform, conversation: string): StreamTarget {
  return {
    url: `https://localhost:${platform.full.httpsPort}/v1/conversations/${conversation}/messages`,
    method: "POST",
    body: QUESTION,
    headers: { authorization: `Bearer ${platform.token}` },
    tokenEvent: "delta",
    ca: platform.full.ca(),
  };
}

const PROVIDER_REQUEST = JSON.stringify({
  model: "claude-bench",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: "What is a benchmark?" }],
});

/** The same answer straight from the fake (`via` "direct"), or through the Caddy in front of it. */
export function providerTarget(platform: Platform, via: "direct" | "proxy"): StreamTarget {
  const url =
    via === "direct"
      ? `${platform.stack.llm.url}/v1/messages`
      : `https://localhost:${platform.proxyOnly.httpsPort}/v1/messages`;
  return {
    url,
    method: "POST",
    body: PROVIDER_REQUEST,
    headers: { "x-api-key": platform.stack.llm.apiKey, "anthropic-version": "2023-06-01" },
    tokenEvent: "content_block_delta",
    ...(via === "proxy" ? { ca: platform.proxyOnly.ca() } : {}),
  };
}

/** Through Caddy and the API, like a client. */
export async function apiJson(
  platform: Platform,
  agents: ReturnType<typeof keepAliveAgents>,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
) {
  const answer = await requestJson(
    {
      url: `https://localhost:${platform.full.httpsPort}${path}`,
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${platform.token}` },
      ca: platform.full.ca(),
    },
    agents,
  );
  if (answer.status >= 300) throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer;
}

export async function newConversation(platform: Platform, agents: ReturnType<typeof keepAliveAgents>): Promise<string> {
  return ((await apiJson(platform, agents, "POST", "/v1/conversations", {})).body as { id: string }).id;
}
