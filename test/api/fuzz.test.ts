// The API fuzzed through the project's Caddy, with real NATS and the fake
// model: at least 10,000 generated requests (test/api/fuzz/requests.ts),
// eight at a time, a quarter of them from well-behaved clients so that
// answers are in progress for the hostile ones to meet. Every answer must
// be one the API documents (the table below), with the JSON error shape
// for a 4xx; never a 5xx (NATS and the model are healthy); the API must not
// crash; its heap must come back after the run; and the store, read from
// NATS, must hold nothing but what each user was told they created
// (test/api/fuzz/ownership.ts).
//
// Seeded: FUZZ_SEED and FUZZ_RUNS (runs of eight requests) replay a run,
// FUZZ_PATH (printed on failure) its shrunk counterexample alone.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generateKeyPair, SignJWT } from "jose";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_JWT_SECRET, type RunningApi } from "../../scripts/loopback/api.js";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { unsignedToken } from "../harness/forged-token.js";
import { describe as describeWire, OwnershipRecord, preview } from "./fuzz/ownership.js";
import { BAD_TOKEN_KINDS, USERS, type FuzzRequest, type Limits, type User } from "./fuzz/request-types.js";
import { fuzzRequest } from "./fuzz/requests.js";
import { toWire, type Lookup, type WireRequest } from "./fuzz/to-wire.js";
import { CaddyClient, type WireResponse } from "./fuzz/wire.js";

const DEFAULT_SEED = 16;
const SEED = fromEnv("FUZZ_SEED", DEFAULT_SEED);
/** Each run sends one batch of BATCH requests at once: 1,250 runs are 10,000 requests. */
const RUNS = fromEnv("FUZZ_RUNS", 1250);
const BATCH = 8;
const REPLAY_PATH = process.env.FUZZ_PATH;
/** Far longer than any answer here takes (the fake model's take about 100 ms): a request still open then hangs. */
const REQUEST_TIMEOUT_MS = 30_000;

const LIMITS: Limits = {
  maxMessageChars: 2000,
  bodyLimitBytes: 256 * 1024,
  allowedModels: ["claude-sonnet-4-6", "claude-haiku-4-5"],
};
const ANSWER_WORDS = "an answer that takes a while to arrive word by word".split(" ").map((w) => `${w} `);
/** JWT `sub`s: one plain, one with every character a NATS subject must not take raw. */
const SUBJECTS: Record<User, string> = { alice: "alice@example.com", bob: "bob.*.> \u00e9" };

/**
 * How far above its reading before the run the instance's memory may stay
 * once the run is over: the JavaScript heap, and the memory outside it that
 * JavaScript objects hold (Buffers, compression streams). Not RSS: the C
 * allocator keeps freed memory, and RSS after runs of the same seed on one
 * machine ranged from 161 to 317 MiB with how busy its cores were, which
 * tells nothing of a leak.
 */
const HEAP_SLACK_BYTES = 24 * 1024 * 1024;
const EXTERNAL_SLACK_BYTES = 16 * 1024 * 1024;

// --- Documented answers -------------------------------------------------------
//
// Every answer a client can get through Caddy, from the code and docs/api.md.
// Add a row when the API documents a new answer.

interface DocumentedAnswer {
  status: number;
  from: "api" | "caddy";
  /** An API error's codes: the body is {"error":{"code","message"}}. */
  codes?: readonly string[];
  /** Headers the answer must carry. */
  headers?: readonly string[];
  /** Caddy's own answers: the requests it gives them to, and their body. */
  when?: (wire: WireRequest) => boolean;
  body?: RegExp;
  /** Documented, but for a store or model in trouble: never with a healthy NATS and fake model. */
  unhealthyOnly?: true;
}

const DOCUMENTED_ANSWERS: readonly DocumentedAnswer[] = [
  // A read, /health, an event stream (a message's answer, a resume).
  { status: 200, from: "api" },
  // POST /v1/conversations.
  { status: 201, from: "api" },
  // DELETE /v1/conversations/:id; a resume with nothing after Last-Event-ID.
  { status: 204, from: "api" },
  { status: 400, from: "api", codes: ["invalid_request", "invalid_json", "model_not_allowed"] },
  { status: 401, from: "api", codes: ["unauthorized"], headers: ["www-authenticate"] },
  // The API's, and Caddy's for the host-only paths (/metrics, /health/*), in the same shape.
  { status: 404, from: "api", codes: ["not_found"] },
  // A request not received within REQUEST_TIMEOUT (the fuzzer's clients are never that slow).
  { status: 408, from: "api", codes: ["request_timeout"] },
  { status: 413, from: "api", codes: ["payload_too_large", "message_too_large"] },
  { status: 415, from: "api", codes: ["unsupported_media_type"] },
  {
    status: 429,
    from: "api",
    codes: ["rate_limited", "too_many_answers", "token_budget_exceeded"],
    headers: ["retry-after"],
  },
  // Headers over Node's 16 KB, and Caddy's own past its limit (16 KB, and Go's 4 KB of slack).
  { status: 431, from: "api", codes: ["headers_too_large"] },
  {
    status: 431,
    from: "caddy",
    when: (wire) => headerBytes(wire) > 16 * 1024,
    body: /^431 Request Header Fields Too Large$/,
  },
  { status: 503, from: "api", codes: ["store_unavailable", "store_full", "draining"], unhealthyOnly: true },
  { status: 507, from: "api", codes: ["storage_quota_exceeded"] },
  // No site for that Host: Caddy's empty answer.
  { status: 200, from: "caddy", when: (wire) => !wire.site, body: /^$/ },
  // What Caddy's HTTP server cannot parse.
  { status: 400, from: "caddy", when: (wire) => caddyCannotParse(wire), body: /^400 Bad Request/ },
];

/** The request line's and header fields' size as sent, which both limits count. */
function headerBytes(wire: WireRequest): number {
  const requestLine = `${wire.method} ${wire.path} HTTP/1.1\r\n`.length;
  return Object.entries(wire.headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, requestLine);
}

/** A request target that is not a path or has a bad percent-escape, or a Host that is not a host name. */
function caddyCannotParse(wire: WireRequest): boolean {
  return !wire.path.startsWith("/") || /%(?![0-9a-f]{2})/i.test(wire.path) || !wire.site;
}

/**
 * Requests whose answer the client cannot read, by design: Caddy's HTTP
 * server answers a HEAD it cannot parse, or whose headers are over its
 * limit, with a body, which Node's client takes for a broken response.
 */
function unreadableByDesign(wire: WireRequest, error: string): boolean {
  return (
    wire.method === "HEAD" &&
    (caddyCannotParse(wire) || headerBytes(wire) > 16 * 1024) &&
    error.includes("HPE_CLOSED_CONNECTION")
  );
}

/**
 * How an event stream may end. An `error` event comes from a model or store
 * in trouble, or (`conversation_deleted`) ends a resume whose conversation
 * was deleted meanwhile. A resume of an answer in progress after a Last-Event-ID
 * past its end follows it to its end and sends nothing (an EventSource
 * reconnects and then gets 204).
 */
const STREAM_ENDS = ["done"] as const;

/** What is wrong with this answer, by the table above. */
function checkAnswer(wire: WireRequest, res: WireResponse): string[] {
  if (res.hungUp) return res.status === 200 ? [] : [`${res.status} as an event stream`];
  if (res.body === undefined)
    return [`${res.status} in a content encoding that cannot be decoded: ${res.headers["content-encoding"]}`];
  const text = res.body.toString("utf8");
  if (/^# (HELP|TYPE) /m.test(text)) return ["the answer holds the API's metrics: /metrics is reachable through Caddy"];
  const rows = DOCUMENTED_ANSWERS.filter((row) => row.status === res.status);
  if (rows.length === 0) return [`${res.status} is not a documented answer: ${preview(text)}`];
  const verdicts = rows.map((row) => judge(row, wire, res, text));
  return verdicts.find((problems) => problems.length === 0) ?? verdicts[0]!;
}

function judge(row: DocumentedAnswer, wire: WireRequest, res: WireResponse, text: string): string[] {
  if (row.from === "caddy") {
    return row.when?.(wire) && row.body?.test(text)
      ? []
      : [`${res.status} is Caddy's only for another request: ${preview(text)}`];
  }
  const problems: string[] = [];
  if (row.unhealthyOnly) problems.push(`${res.status} with a healthy store and model: ${preview(text)}`);
  for (const header of row.headers ?? []) {
    if (res.headers[header] === undefined) problems.push(`${res.status} without ${header}`);
  }
  if (row.codes && wire.method !== "HEAD") problems.push(...checkErrorShape(row, res, text));
  if (
    res.status === 200 &&
    wire.method !== "HEAD" &&
    String(res.headers["content-type"]).startsWith("text/event-stream")
  ) {
    problems.push(...checkStreamEnd(wire, text));
  }
  return problems;
}

function checkErrorShape(row: DocumentedAnswer, res: WireResponse, text: string): string[] {
  if (!String(res.headers["content-type"]).startsWith("application/json")) {
    return [`${res.status} as ${res.headers["content-type"]}, not JSON: ${preview(text)}`];
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [`${res.status} whose body is not JSON: ${preview(text)}`];
  }
  const error = (body as { error?: Record<string, unknown> })?.error;
  const shaped =
    Object.keys(body as object).length === 1 &&
    error !== undefined &&
    Object.keys(error).sort().join() === "code,message" &&
    typeof error.message === "string" &&
    error.message.length > 0;
  if (!shaped) return [`${res.status} not in the error shape {"error":{"code","message"}}: ${preview(text)}`];
  if (!row.codes!.includes(String(error.code))) return [`${res.status} with undocumented code ${preview(error.code)}`];
  return [];
}

function checkStreamEnd(wire: WireRequest, text: string): string[] {
  const events = text.split(/\n\n/).filter((block) => /^event: /m.test(block));
  if (events.length === 0 && wire.route === "stream") return [];
  const last = events.at(-1);
  const name = last?.match(/^event: (.*)$/m)?.[1];
  // A stream whose conversation another request deleted ends with that error.
  if (name === "error" && /"code":"conversation_deleted"/.test(last!)) return [];
  if (!name || !(STREAM_ENDS as readonly string[]).includes(name)) {
    return [`an event stream that ends with ${last ? preview(last) : "no event"}`];
  }
  return [];
}

// --- The run -------------------------------------------------------------------

function fromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name}=${raw}: use a whole number, e.g. ${fallback}`);
  return value;
}

/** Every token kind the generators name, signed once. */
async function signTokens(): Promise<Lookup["token"]> {
  const { privateKey } = await generateKeyPair("RS256");
  const wrongSecret = new TextEncoder().encode("another-secret-that-is-long-enough-0123456789");
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  const tokens = new Map<string, string>();
  for (const user of USERS) {
    const sub = SUBJECTS[user];
    const signed = (alg: string) => new SignJWT({}).setProtectedHeader({ alg }).setSubject(sub).setIssuedAt();
    const valid = await tokenFor(sub, { expiresIn: "2h" });
    const [header, , signature] = valid.split(".") as [string, string, string];
    tokens.set(`valid:${user}`, valid);
    tokens.set(`far-future:${user}`, await signed("HS256").setExpirationTime(253402300799).sign(secret));
    tokens.set(`expired:${user}`, await tokenFor(sub, { expiresIn: now - 3600 }));
    tokens.set(`not-yet-valid:${user}`, await tokenFor(sub, { notBefore: now + 3600 }));
    tokens.set(`no-exp:${user}`, await tokenFor(sub, { expiresIn: null }));
    tokens.set(`wrong-secret:${user}`, await signed("HS256").setExpirationTime("1h").sign(wrongSecret));
    tokens.set(`hs512:${user}`, await signed("HS512").setExpirationTime("1h").sign(secret));
    tokens.set(`rs256:${user}`, await signed("RS256").setExpirationTime("1h").sign(privateKey));
    tokens.set(`alg-none:${user}`, unsignedToken(sub));
    tokens.set(`empty-sub:${user}`, await tokenFor("", { expiresIn: "1h" }));
    tokens.set(`long-sub:${user}`, await tokenFor("s".repeat(257), { expiresIn: "1h" }));
    // Another user's claims under this user's signature.
    const other = Buffer.from(JSON.stringify({ sub: `${sub}-admin`, exp: now + 3600 })).toString("base64url");
    tokens.set(`tampered:${user}`, `${header}.${other}.${signature}`);
  }
  const kinds = new Set(["valid", "far-future", ...BAD_TOKEN_KINDS]);
  return (kind) => {
    if (!kinds.has(kind.kind)) throw new Error(`no token of kind ${kind.kind}`);
    return tokens.get(`${kind.kind}:${kind.user}`)!;
  };
}

interface Memory {
  heapUsed: number;
  external: number;
  rss: number;
}

/** What the instance holds once a full garbage collection has run (test/harness/gc-on-signal.cjs). */
async function memoryOf(api: RunningApi): Promise<Memory> {
  api.process.signal("SIGUSR2");
  await sleep(500);
  const res = await requestJson("GET", `${api.url}/metrics`);
  const value = (name: string) => Number(res.text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
  return {
    heapUsed: value("nodejs_heap_size_used_bytes"),
    external: value("nodejs_external_memory_bytes"),
    rss: value("process_resident_memory_bytes"),
  };
}

const GC_ON_SIGNAL = join(import.meta.dirname, "../harness/gc-on-signal.cjs");

/** The command that runs this file again as it just ran. */
const REPLAY_RUN = `FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx vitest run --project fast test/api/fuzz.test.ts`;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe("the API fuzzed through Caddy", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  let client: CaddyClient;
  let nc: NatsConnection;
  let token: Lookup["token"];
  let siteHost: string;
  const record = new OwnershipRecord(SUBJECTS);
  let before: Memory;
  let fuzzed = false;

  const lookup = (): Lookup => ({ ...record.lookup(), token });
  /** A POST as this user that must succeed, recorded like the fuzzer's own. */
  const seed = async (user: User, path: string, body: unknown, conversationId?: string): Promise<Buffer> => {
    const wire: WireRequest = {
      method: "POST",
      path,
      headers: {
        host: siteHost,
        authorization: `Bearer ${token({ kind: "valid", user })}`,
        "content-type": "application/json",
      },
      body: Buffer.from(JSON.stringify(body)),
      chunked: false,
      hangUp: false,
      as: user,
      site: true,
      route: conversationId ? "messages" : "conversations",
      conversationId,
    };
    const res = await client.send(wire);
    if ("error" in res || res.status >= 300) throw new Error(`seeding: POST ${path}: ${JSON.stringify(res)}`);
    expect(record.observe([{ wire, res }])).toEqual([]);
    return res.body!;
  };
  /** Every conversation this user lists through Caddy, page by page. */
  const listAs = async (user: User): Promise<string[]> => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
      const res = await requestJson("GET", `https://${siteHost}/v1/conversations?limit=200${query}`, undefined, {
        ca: caddy.ca(),
        headers: { authorization: `Bearer ${token({ kind: "valid", user })}` },
      });
      expect(res.status).toBe(200);
      ids.push(...(res.body.conversations as Array<{ id: string }>).map((c) => c.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    return ids;
  };
  /** Until no answer is in progress and none has events left in the log: what the checks afterwards need. */
  const settle = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const health = await requestJson("GET", `${stack.apis[0]!.url}/health/details`);
      if (health.body?.activeGenerations === 0) return;
      if (Date.now() > deadline) throw new Error(`answers still in progress after 30 s: ${health.text}`);
      await sleep(200);
    }
  };

  beforeAll(async () => {
    stack = await startStack({
      nodeArgs: ["--expose-gc", "--require", GC_ON_SIGNAL],
      env: {
        // The fuzzer's requests all come from one address, as two users: the limits would refuse almost all.
        RATE_LIMIT_REQUESTS: "1000000",
        MAX_MESSAGE_CHARS: String(LIMITS.maxMessageChars),
        LLM_MODEL: LIMITS.allowedModels[0]!,
        LLM_ALLOWED_MODELS: LIMITS.allowedModels.slice(1).join(","),
        GENERATION_LEASE: "5s",
      },
    });
    // Answers that last a few batches, so resumes and deletes meet them in progress.
    stack.llm.setDefault({ kind: "stream", chunks: ANSWER_WORDS, delayMs: 8 });
    caddy = await startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) });
    siteHost = `localhost:${caddy.httpsPort}`;
    client = new CaddyClient(caddy.httpsPort, caddy.ca(), BATCH, REQUEST_TIMEOUT_MS);
    nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
    token = await signTokens();

    // Something of each user's to read, resume, send to and delete from the start.
    for (const user of USERS) {
      for (let i = 0; i < 3; i++) {
        const created = await seed(user, "/v1/conversations", { title: `${user} ${i}` });
        const id = JSON.parse(created.toString()).id as string;
        await seed(user, `/v1/conversations/${id}/messages`, { content: `hello from ${user} ${i}` }, id);
      }
    }
    await settle();
    before = await memoryOf(stack.apis[0]!);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await nc?.close();
    await caddy?.stop();
    await stack?.stop();
  });

  it(`answers ${RUNS * BATCH} generated requests as documented: no 5xx, no crash, nothing of another's`, async () => {
    const api = stack.apis[0]!;
    const statuses = new Map<string, number>();
    let sent = 0;
    /** The first batch after which the API was found dead: shrinking it against a dead API means nothing. */
    let crashedBy: FuzzRequest[] | undefined;
    const started = Date.now();

    const property = fc.asyncProperty(
      fc.array(fuzzRequest(LIMITS), { minLength: BATCH, maxLength: BATCH }),
      async (batch) => {
        if (crashedBy) throw new Error("the API is down (see the batch that brought it down)");
        const wires = batch.map((request) => toWire(request, lookup(), siteHost));
        const answers = await Promise.all(wires.map((wire) => client.send(wire)));
        sent += batch.length;
        const problems: string[] = [];
        const exchanges: Array<{ wire: WireRequest; res: WireResponse }> = [];
        answers.forEach((res, i) => {
          const wire = wires[i]!;
          if ("error" in res && unreadableByDesign(wire, res.error)) {
            statuses.set("unreadable", (statuses.get("unreadable") ?? 0) + 1);
            return;
          }
          if ("error" in res) {
            statuses.set("no answer", (statuses.get("no answer") ?? 0) + 1);
            problems.push(`${summary(wire)}\n  got no answer: ${res.error} after ${res.ms} ms`);
            return;
          }
          statuses.set(String(res.status), (statuses.get(String(res.status)) ?? 0) + 1);
          for (const problem of checkAnswer(wire, res)) problems.push(`${summary(wire)}\n  ${problem}`);
          exchanges.push({ wire, res });
        });
        problems.push(...record.observe(exchanges));
        if (!api.process.running) {
          crashedBy = batch;
          problems.push(
            `the API exited with code ${await api.process.exited}:\n${api.process.output.slice(-20).join("\n")}`,
          );
        }
        if (problems.length > 0) throw new Error(problems.join("\n"));
      },
    );

    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, path: REPLAY_PATH, verbose: 0 });
    fuzzed = true;
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz: ${sent} requests (seed ${SEED}) in ${seconds.toFixed(1)} s; answers by status: ` +
        [...statuses]
          .sort()
          .map(([s, n]) => `${s}: ${n}`)
          .join(", ") +
        `; the store holds ${JSON.stringify(record.size)}`,
    );
    if (details.failed) throw new Error(failureReport(details, crashedBy));
    expect(sent).toBeGreaterThanOrEqual(REPLAY_PATH ? 0 : RUNS * BATCH);
  }, 900_000);

  it("is still up, and its memory is back within bounds", async () => {
    expect(stack.apis[0]!.process.running).toBe(true);
    const health = await requestJson("GET", `https://${siteHost}/health`, undefined, { ca: caddy.ca() });
    expect(health.status).toBe(200);
    await settle();
    const after = await memoryOf(stack.apis[0]!);
    console.log(
      `fuzz: memory before ${mib(before.heapUsed)} heap, ${mib(before.external)} external, ${mib(before.rss)} RSS; ` +
        `after ${mib(after.heapUsed)} heap, ${mib(after.external)} external, ${mib(after.rss)} RSS`,
    );
    expect(after.heapUsed, `heap after the run; replay: ${REPLAY_RUN}`).toBeLessThanOrEqual(
      before.heapUsed + HEAP_SLACK_BYTES,
    );
    expect(after.external, `external memory after the run; replay: ${REPLAY_RUN}`).toBeLessThanOrEqual(
      before.external + EXTERNAL_SLACK_BYTES,
    );
  }, 60_000);

  it("stored nothing a client did not own", async () => {
    expect(fuzzed).toBe(true);
    await settle();
    expect(await record.checkStore(nc), `the store after the run; replay: ${REPLAY_RUN}`).toEqual([]);
    // And as each user sees it through the API: their conversations, all of them, and no one else's.
    for (const user of USERS) {
      expect((await listAs(user)).sort()).toEqual([...lookup().conversationsOf(user)].sort());
    }
  }, 60_000);
});

/** One request as sent, shortened for a report. */
function summary(wire: WireRequest): string {
  const headers = Object.entries(wire.headers)
    .map(([name, value]) => `${name}: ${value.length > 80 ? `${value.slice(0, 80)}… (${value.length})` : value}`)
    .join("; ");
  const body =
    wire.body === undefined
      ? "no body"
      : `body ${preview(wire.body.toString("utf8").slice(0, 200))} (${wire.body.length} bytes)`;
  return `${describeWire(wire)} [${headers}] ${body}${wire.chunked ? " chunked" : ""}`;
}

function failureReport(details: fc.RunDetails<[FuzzRequest[]]>, crashedBy: FuzzRequest[] | undefined): string {
  const replay = `FUZZ_SEED=${details.seed} FUZZ_RUNS=${RUNS} FUZZ_PATH=${details.counterexamplePath} npx vitest run --project fast test/api/fuzz.test.ts`;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const batch = crashedBy ?? details.counterexample?.[0] ?? [];
  return [
    `The API fuzzer failed after ${details.numRuns} runs (seed ${details.seed}, path ${details.counterexamplePath}, ${details.numShrinks} shrinks).`,
    crashedBy ? "The batch that brought the API down:" : "The shrunk counterexample's problems:",
    error,
    `Its ${batch.length} requests, as generated:`,
    ...batch.map((request) => `  ${truncate(fc.stringify(request), 1500)}`),
    `Replay it: ${replay}`,
  ].join("\n");
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
