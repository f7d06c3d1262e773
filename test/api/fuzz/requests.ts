// What the API fuzzer (test/api/fuzz.test.ts) sends: fast-check generators
// of requests, ordinary and hostile, and their resolution into bytes on the
// wire. A request names conversations symbolically ("the other user's
// third conversation"), so it means the same thing whatever the store holds
// when it runs, during shrinking and on a replay too.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";

export const USERS = ["alice", "bob"] as const;
export type User = (typeof USERS)[number];

/** Who a request claims to be: the two users' tokens, and every kind of bad one. */
export type TokenKind =
  | { kind: "valid"; user: User }
  /** `exp` in the year 9999: accepted today (tokens have no maximum lifetime). */
  | { kind: "far-future"; user: User }
  | { kind: BadTokenKind; user: User }
  | { kind: "garbage"; value: string }
  | { kind: "none" };

export const BAD_TOKEN_KINDS = [
  "expired",
  "not-yet-valid",
  "no-exp",
  "wrong-secret",
  "hs512",
  "rs256",
  "alg-none",
  "empty-sub",
  "long-sub",
  "tampered",
] as const;
export type BadTokenKind = (typeof BAD_TOKEN_KINDS)[number];

export interface Auth {
  /** "Bearer" in any case is the scheme the API takes. */
  scheme: string;
  separator: string;
  token: TokenKind;
}

/** Whose conversation: the user the token names, or the other one. */
export type Whose = "own" | "other's";

/** A conversation id: one a user created (picked among theirs when sent), one deleted, nobody's, or not an id at all. */
export type IdRef =
  | { kind: "conversation"; of: Whose; pick: number }
  | { kind: "deleted"; pick: number }
  | { kind: "uuid"; value: string }
  | { kind: "raw"; segment: string };

/** An answer's id: one in the conversation in the path, one of a user's anywhere, or any id shape. */
export type ReplyRef = { kind: "reply"; in: "this conversation" | Whose; pick: number } | IdRef;

export type Target =
  | { route: "health" }
  | { route: "metrics"; path: string }
  | { route: "conversations"; query?: string }
  | { route: "conversation"; id: IdRef }
  | { route: "messages"; id: IdRef }
  | { route: "stream"; id: IdRef; reply: ReplyRef; query?: string }
  /** A real route's path, bent: a trailing slash, another case, a dot segment, an encoded letter... */
  | { route: "near-miss"; base: Exclude<Target, { route: "near-miss" | "raw" }>; bend: Bend }
  | { route: "raw"; path: string };

const BENDS = [
  "trailing-slash",
  "double-slash",
  "upper-case",
  "dot-segment",
  "dot-dot",
  "encoded-letter",
  "encoded-slash",
  "semicolon",
  "v2",
  "no-version",
  "extra-segment",
  "fragment",
] as const;
export type Bend = (typeof BENDS)[number];

export type Body =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "text"; text: string }
  /** Anything, invalid UTF-8 included. */
  | { kind: "bytes"; bytes: number[] }
  /** `[[[...]]]` or `{"a":{"a":...}}`, optionally under a key the JSON parser refuses. */
  | { kind: "nested"; depth: number; shape: "array" | "object"; underKey?: "__proto__" | "constructor" | "content" }
  /** A string field (or the whole body) of this many characters. */
  | { kind: "huge"; chars: number; field: "content" | "title" | "whole" }
  /** A JSON body compressed, with or without saying so. */
  | { kind: "compressed"; encoding: "gzip" | "br" | "deflate"; inner: unknown };

export interface Headers {
  contentType?: string;
  contentEncoding?: string;
  accept?: string;
  acceptEncoding?: string;
  /** Unset: the site's own host. */
  host?: string;
  xForwardedFor?: string;
  lastEventId?: string;
  /** One long header, of this many bytes. */
  padding?: number;
  extra: Array<[string, string]>;
  /** Sent in chunks with no Content-Length. */
  chunked: boolean;
  /** An event stream's client that hangs up once it has the headers, as a closed browser tab does. */
  hangUp: boolean;
}

export interface FuzzRequest {
  method: string;
  target: Target;
  auth?: Auth;
  headers: Headers;
  body: Body;
}

export interface Limits {
  maxMessageChars: number;
  bodyLimitBytes: number;
  allowedModels: string[];
}

// --- Generators -------------------------------------------------------------

const user = fc.constantFrom(...USERS);

/** Undefined, except once in `oneIn` (and undefined is what it shrinks to). */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
const pick = fc.nat({ max: 1000 });

/** Characters Node's HTTP client lets into a header value. */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.constant("\t") },
    ),
    maxLength,
  });

const tokenKind: fc.Arbitrary<TokenKind> = fc.oneof(
  { weight: 12, arbitrary: user.map((u) => ({ kind: "valid" as const, user: u })) },
  { weight: 1, arbitrary: user.map((u) => ({ kind: "far-future" as const, user: u })) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constantFrom(...BAD_TOKEN_KINDS), user }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.stringMatching(/^[A-Za-z0-9_.-]{0,300}$/),
        headerText(100),
        fc.constantFrom("null", "undefined", "..", "eyJhbGciOiJIUzI1NiJ9..", "a.b.c", "x".repeat(8000)),
      )
      .map((value) => ({ kind: "garbage" as const, value })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
);

const auth: fc.Arbitrary<Auth | undefined> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      scheme: fc.oneof(
        { weight: 10, arbitrary: fc.constant("Bearer") },
        { weight: 2, arbitrary: fc.constantFrom("bearer", "BEARER", "BeArEr") },
        { weight: 1, arbitrary: fc.constantFrom("Basic", "Token", "", "Bearer:", "Bearerx") },
      ),
      separator: fc.oneof({ weight: 10, arbitrary: fc.constant(" ") }, fc.constantFrom("", "  ", "\t", " \t ")),
      token: tokenKind,
    }),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Path segments that are not UUIDs: NATS wildcards and separators, encodings, and lengths. */
const rawSegment = fc.oneof(
  fc.constantFrom(
    "*",
    ">",
    ".",
    "..",
    "a.b",
    "conv.*.>",
    "%2A",
    "%3E",
    "%2E",
    "%2e%2e",
    "%2F",
    "%2F..%2F",
    "%00",
    "%ff%fe",
    "%c0%ae%c0%ae",
    "%u002e",
    "%25",
    "%",
    "%zz",
    "null",
    "undefined",
    "0",
    "-1",
    "true",
    "%20",
    "+",
    "~",
    "$KV.conversations.>",
  ),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid().chain((u) => fc.constantFrom(`${u}.>`, `${u}*`, `${u}%2E%3E`, `%20${u}`, `${u}%00`, u.slice(1), `${u}0`)),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map((s) => encodeURIComponent(s)),
  fc.integer({ min: 100, max: 20_000 }).map((n) => "a".repeat(n)),
);

const idRef: fc.Arbitrary<IdRef> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("conversation" as const),
      of: fc.oneof({ weight: 2, arbitrary: fc.constant("own" as const) }, fc.constant("other's" as const)),
      pick,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("deleted" as const), pick }) },
  { weight: 2, arbitrary: fc.uuid().map((value) => ({ kind: "uuid" as const, value })) },
  { weight: 3, arbitrary: rawSegment.map((segment) => ({ kind: "raw" as const, segment })) },
);

const replyRef: fc.Arbitrary<ReplyRef> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("reply" as const),
      in: fc.oneof(
        { weight: 4, arbitrary: fc.constant("this conversation" as const) },
        fc.constantFrom("own" as const, "other's" as const),
      ),
      pick,
    }),
  },
  { weight: 2, arbitrary: idRef },
);

const listQuery = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 200 }).map((n) => `limit=${n}`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "limit=0",
      "limit=201",
      "limit=1000",
      "limit=-1",
      "limit=abc",
      "limit=1e2",
      "limit=%31",
      "limit=1&limit=2",
      "limit=",
      "cursor=",
      "cursor=%ff",
      "cursor=" + "c".repeat(201),
      "unknown=1",
      "limit[]=1",
      "__proto__=1",
      "constructor[prototype]=1",
    ),
  },
  { weight: 2, arbitrary: headerText(60).map((c) => `cursor=${encodeURIComponent(c)}`) },
  // Shaped like the API's own cursors (base64url of JSON [activity, id]), with anything inside.
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.tuple(
          fc.oneof(
            fc.date().map((d) => (isNaN(d.getTime()) ? "" : d.toISOString())),
            fc.string(),
          ),
          fc.uuid(),
        ),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map((value) => `cursor=${Buffer.from(JSON.stringify(value) ?? "").toString("base64url")}`),
  },
);

const lastEventId = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 20 }).map(String) },
  fc.constantFrom("", " ", "-1", "1.5", "1e3", "0x10", "999999999", "1000000000", "99999999999999999999", " 3 ", "١٢"),
  headerText(40),
  fc.integer({ min: 1, max: 8000 }).map((n) => "9".repeat(n)),
);

/** Node's client refuses a header value beyond Latin-1. */
const lastEventIdHeader = lastEventId.filter((id) => /^[\t\x20-\x7e\x80-\xff]*$/.test(id));

const streamQuery = sometimes(
  lastEventId.map((id) => `lastEventId=${encodeURIComponent(id)}`),
  4,
);

const validTarget: fc.Arbitrary<Exclude<Target, { route: "near-miss" | "raw" }>> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ route: "health" as const }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("/metrics", "/metrics/", "/metrics/x", "/METRICS", "//metrics", "/%6detrics", "/metrics?x=1")
      .map((path) => ({ route: "metrics" as const, path })),
  },
  { weight: 8, arbitrary: fc.record({ route: fc.constant("conversations" as const), query: listQuery }) },
  { weight: 6, arbitrary: fc.record({ route: fc.constant("conversation" as const), id: idRef }) },
  { weight: 8, arbitrary: fc.record({ route: fc.constant("messages" as const), id: idRef }) },
  {
    weight: 5,
    arbitrary: fc.record({ route: fc.constant("stream" as const), id: idRef, reply: replyRef, query: streamQuery }),
  },
);

const rawPath = fc.oneof(
  fc.constantFrom(
    "/",
    "",
    "*",
    "/v1",
    "/v1/",
    "/v1/conversations/../../metrics",
    "/v1/%2e%2e/%2e%2e/metrics",
    "/v1/conversations/..%2F..%2Fmetrics",
    "/./metrics",
    "/health/../metrics",
    "/metrics%2F",
    "/metrics;x",
    "/health%00",
    "/health?",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/..%252f..%252fetc/passwd",
    "/v1/conversations%00",
    "/v1/conversations/%2a/messages",
    "/v1/conversations/*/messages/>/stream",
    "http://localhost/health",
    "/\\..\\metrics",
    "/v1/conversations?__proto__[x]=1",
  ),
  fc.webPath(),
  fc.integer({ min: 1000, max: 40_000 }).map((n) => `/v1/${"x".repeat(n)}`),
  fc.integer({ min: 10, max: 3000 }).map((n) => "/v1" + "/conversations".repeat(n)),
  fc.integer({ min: 10, max: 2000 }).map((n) => "/" + "../".repeat(n) + "metrics"),
);

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 12, arbitrary: validTarget },
  {
    weight: 2,
    arbitrary: fc.record({
      route: fc.constant("near-miss" as const),
      base: validTarget,
      bend: fc.constantFrom(...BENDS),
    }),
  },
  { weight: 1, arbitrary: rawPath.map((path) => ({ route: "raw" as const, path })) },
);

const methodFor = (t: Target): fc.Arbitrary<string> => {
  const usual: Record<Target["route"], string[]> = {
    health: ["GET"],
    metrics: ["GET"],
    conversations: ["GET", "POST"],
    conversation: ["GET", "DELETE"],
    messages: ["POST"],
    stream: ["GET"],
    "near-miss": ["GET", "POST", "DELETE"],
    raw: ["GET", "POST"],
  };
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...usual[t.route]) },
    { weight: 2, arbitrary: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS") },
    { weight: 1, arbitrary: fc.constantFrom("TRACE", "PROPFIND", "PURGE", "SEARCH", "LOCK", "FOO", "get") },
  );
};

const title = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 200 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom("\ud800", "a\udfffb", "\u0000", "\u202e", "<script>", "${x}", "null") },
);

const content = (limits: Limits) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 300 }).filter((s) => s.trim() !== "") },
    {
      weight: 2,
      arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).filter((s) => s.trim() !== ""),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "\ud800 lone",
        "x\u0000y",
        "data: forged\n\nevent: done\n",
        "x".repeat(limits.maxMessageChars),
      ),
    },
  );

/** Bodies the route schemas (app/src/routes/schemas.ts) accept. */
const createBody = fc.oneof({ weight: 3, arbitrary: fc.record({ title }, { requiredKeys: [] }) }, fc.constant(null));

const sendBody = (limits: Limits) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ content: content(limits) }) },
    fc.record({ content: content(limits), model: fc.constantFrom(...limits.allowedModels) }),
  );

const validJson = (limits: Limits) => fc.oneof(createBody, sendBody(limits));

/** The body a route takes, mostly. */
const fittingJson = (limits: Limits, route: Target["route"]) =>
  route === "messages" ? sendBody(limits) : route === "conversations" ? createBody : validJson(limits);

/** Bodies one step from valid: wrong types, lengths just over, unknown fields, refused keys. */
const nearValidJson = (limits: Limits) =>
  fc.oneof(
    fc.record({ title: fc.constantFrom("", "t".repeat(201)) }),
    fc.record({
      title: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })),
    }),
    fc.record({ content: fc.constantFrom("", " ", "\n\t ", "x".repeat(limits.maxMessageChars + 1)) }),
    fc.record({
      content: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })),
    }),
    fc.record({ content: fc.string({ minLength: 1 }), model: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()) }),
    fc.record({ content: fc.string({ minLength: 1 }), role: fc.constantFrom("system", "assistant") }),
    fc.record({
      content: fc.string({ minLength: 1 }),
      model: fc.constantFrom("", "m".repeat(201), "gpt-4o", "claude-opus-4"),
    }),
    fc.record({
      title: fc.string({ minLength: 1, maxLength: 10 }),
      content: fc.string({ minLength: 1, maxLength: 10 }),
    }),
    fc.constantFrom(
      {},
      [],
      "a string",
      0,
      true,
      JSON.parse('{"__proto__":{"admin":true},"content":"hi"}') as unknown,
      JSON.parse('{"constructor":{"prototype":{"admin":true}},"title":"t"}') as unknown,
      { content: { toString: "x" } },
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );

const body = (limits: Limits, route: Target["route"]): fc.Arbitrary<Body> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
    { weight: 12, arbitrary: fittingJson(limits, route).map((value) => ({ kind: "json" as const, value })) },
    { weight: 5, arbitrary: nearValidJson(limits).map((value) => ({ kind: "json" as const, value })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            "",
            "{",
            '{"content": "hi"',
            "null",
            "[1,2,3]",
            "content=hi",
            '{"content":"a"}{"content":"b"}',
          ),
          fc.string({ maxLength: 200 }),
        )
        .map((text) => ({ kind: "text" as const, text })),
    },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }),
          // Valid JSON around bytes that are not UTF-8.
          fc
            .array(fc.constantFrom(0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf8, 0xfe, 0xff), {
              minLength: 1,
              maxLength: 12,
            })
            .map((bad) => [...Buffer.from('{"content":"'), ...bad, ...Buffer.from('"}')]),
          fc
            .array(fc.constantFrom(0x80, 0xc0, 0xed, 0xff), { minLength: 1, maxLength: 12 })
            .map((bad) => [...Buffer.from('{"title":"'), ...bad, ...Buffer.from('"}')]),
        )
        .map((bytes) => ({ kind: "bytes" as const, bytes })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("nested" as const),
        depth: fc.integer({ min: 50, max: 200_000 }),
        shape: fc.constantFrom("array" as const, "object" as const),
        underKey: fc.option(fc.constantFrom("__proto__" as const, "constructor" as const, "content" as const), {
          nil: undefined,
        }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("huge" as const),
        chars: fc.oneof(
          fc.integer({ min: limits.maxMessageChars, max: limits.bodyLimitBytes - 100 }),
          fc.integer({ min: limits.bodyLimitBytes - 100, max: limits.bodyLimitBytes + 100 }),
          fc.integer({ min: limits.bodyLimitBytes, max: 4 * limits.bodyLimitBytes }),
        ),
        field: fc.constantFrom("content" as const, "title" as const, "whole" as const),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("compressed" as const),
        encoding: fc.constantFrom("gzip" as const, "br" as const, "deflate" as const),
        inner: validJson(limits),
      }),
    },
  );

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json; charset=latin1",
      "application/json;charset=",
      "application/jsonx",
      "application/problem+json",
      "application/vnd.api+json",
      "text/plain",
      "text/event-stream",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/octet-stream",
      "*/*",
      "",
      ";",
      "application/json, text/plain",
    ),
  },
  { weight: 1, arbitrary: headerText(80) },
);

const encodingName = fc.oneof(
  fc.constantFrom("gzip", "br", "zstd", "deflate", "identity", "compress", "x-gzip", "*", "", "gzip, br", "chunked"),
  headerText(30),
);

const acceptEncoding = fc.oneof(
  fc.constantFrom(
    "gzip",
    "br",
    "zstd",
    "deflate",
    "identity",
    "*",
    "gzip, deflate, br, zstd",
    "zstd;q=0, gzip",
    "identity;q=0",
  ),
  headerText(40),
);

const accept = fc.oneof(
  fc.constantFrom(
    "application/json",
    "text/event-stream",
    "*/*",
    "text/html",
    "application/xml",
    "",
    "text/event-stream;q=0",
  ),
  headerText(40),
);

const host = fc.constantFrom(
  "LOCALHOST",
  "localhost.",
  "evil.example",
  "127.0.0.1",
  "[::1]",
  "localhost:1",
  "",
  "localhost@evil.example",
  "x".repeat(300),
);

const xForwardedFor = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.array(fc.ipV4(), { minLength: 2, maxLength: 50 }).map((ips) => ips.join(", ")),
  fc.constantFrom("unknown", "127.0.0.1", "::1", "0.0.0.0", "999.1.1.1", ",,,", "1.2.3.4:5678", "[::1]:80"),
  headerText(60),
);

const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,30}$/)
  .filter(
    (n) =>
      !["host", "content-length", "transfer-encoding", "connection", "authorization", "expect", "upgrade"].includes(n),
  );

const headers: fc.Arbitrary<Headers> = fc.record(
  {
    contentType: sometimes(contentType, 3),
    contentEncoding: sometimes(encodingName, 12),
    accept: sometimes(accept, 4),
    acceptEncoding: sometimes(acceptEncoding, 3),
    host: sometimes(host, 30),
    xForwardedFor: sometimes(xForwardedFor, 6),
    lastEventId: sometimes(lastEventIdHeader, 5),
    padding: sometimes(fc.integer({ min: 1000, max: 70_000 }), 30),
    extra: fc.array(fc.tuple(headerName, headerText(100)), { maxLength: 3 }),
    chunked: fc.boolean(),
    hangUp: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  },
  { requiredKeys: ["extra", "chunked", "hangUp"] },
);

/** Anything: a route (mostly real ones), a method that mostly fits it, a token, headers and a body. */
function anyRequest(limits: Limits): fc.Arbitrary<FuzzRequest> {
  return target.chain((t) =>
    fc.record({
      method: methodFor(t),
      target: fc.constant(t),
      auth,
      headers,
      body: body(limits, t.route),
    }),
  );
}

/**
 * What a well-behaved client sends: its own token, a real route with its
 * method, the body it takes, its own conversations and answers. These keep
 * the store busy (answers in progress for resumes, deletes and the cap on
 * answers to meet) for the hostile requests around them.
 */
function wellFormedRequest(limits: Limits): fc.Arbitrary<FuzzRequest> {
  const own = fc.record({ kind: fc.constant("conversation" as const), of: fc.constant("own" as const), pick });
  const call = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        method: fc.constant("POST"),
        target: fc.constant({ route: "conversations" as const }),
        json: createBody,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        method: fc.constant("GET"),
        target: fc.record({ route: fc.constant("conversations" as const), query: listQuery }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        method: fc.constant("GET"),
        target: fc.record({ route: fc.constant("conversation" as const), id: own }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.constant("DELETE"),
        target: fc.record({ route: fc.constant("conversation" as const), id: own }),
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        method: fc.constant("POST"),
        target: fc.record({ route: fc.constant("messages" as const), id: own }),
        json: sendBody(limits),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        method: fc.constant("GET"),
        target: fc.record({
          route: fc.constant("stream" as const),
          id: own,
          reply: fc.record({
            kind: fc.constant("reply" as const),
            in: fc.constant("this conversation" as const),
            pick,
          }),
          query: fc.constant(undefined),
        }),
      }),
    },
  );
  return fc
    .record({
      call,
      user,
      lastEventId: sometimes(fc.nat({ max: 12 }).map(String), 2),
      acceptEncoding: sometimes(fc.constantFrom("gzip", "br", "zstd", "gzip, deflate, br, zstd"), 2),
      hangUp: fc.boolean(),
    })
    .map(({ call, user, lastEventId, acceptEncoding, hangUp }) => ({
      method: call.method,
      target: call.target,
      auth: { scheme: "Bearer", separator: " ", token: { kind: "valid", user } },
      headers: { lastEventId, acceptEncoding, extra: [], chunked: false, hangUp },
      body: "json" in call ? { kind: "json", value: call.json } : { kind: "none" },
    }));
}

/** One request: a well-behaved client's one time in four, anything otherwise. */
export function fuzzRequest(limits: Limits): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 3, arbitrary: anyRequest(limits) }, { weight: 1, arbitrary: wellFormedRequest(limits) });
}

// --- Resolution ---------------------------------------------------------------

/** What the fuzzer knows of the store when a request goes out. */
export interface Lookup {
  conversationsOf(user: User): readonly string[];
  repliesOf(user: User): ReadonlyArray<{ conversationId: string; replyId: string }>;
  repliesIn(conversationId: string): readonly string[];
  deleted(): readonly string[];
  /** A token of this kind, signed at set-up (tokens are signed asynchronously). */
  token(kind: Exclude<TokenKind, { kind: "garbage" | "none" }>): string;
}

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  chunked: boolean;
  hangUp: boolean;
  /** The user whose token this is, if the API should accept it. */
  as?: User;
  /** The Host is the site's: Caddy passes the request on to the API. */
  site: boolean;
  /** The route the path was made from (bent or not: the router may take it all the same). */
  route: Target["route"];
  /** The conversation the path names (a UUID), for the ownership checks. */
  conversationId?: string;
  replyId?: string;
}

function choose<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

/** What ids resolve against: the store as the fuzzer knows it, and the user the token names. */
interface Scope {
  lookup: Lookup;
  self: User;
}

function whose(of: Whose, self: User): User {
  return of === "own" ? self : USERS.find((u) => u !== self)!;
}

function resolveId(ref: IdRef, { lookup, self }: Scope): string {
  switch (ref.kind) {
    case "conversation": {
      const ids = lookup.conversationsOf(whose(ref.of, self));
      return choose(ids, ref.pick) ?? choose(lookup.deleted(), ref.pick) ?? ZERO_UUID;
    }
    case "deleted":
      return choose(lookup.deleted(), ref.pick) ?? ZERO_UUID;
    case "uuid":
      return ref.value;
    case "raw":
      return ref.segment;
  }
}

const ZERO_UUID = "00000000-0000-4000-8000-000000000000";

function resolveReply(ref: ReplyRef, conversationId: string, scope: Scope): string {
  if (ref.kind !== "reply") return resolveId(ref, scope);
  const here = scope.lookup.repliesIn(conversationId);
  const elsewhere = scope.lookup.repliesOf(whose(ref.in === "other's" ? "other's" : "own", scope.self));
  const replyId = ref.in === "this conversation" ? choose(here, ref.pick) : choose(elsewhere, ref.pick)?.replyId;
  return replyId ?? choose(elsewhere, ref.pick)?.replyId ?? ZERO_UUID;
}

function pathOf(t: Exclude<Target, { route: "near-miss" | "raw" }>, scope: Scope) {
  switch (t.route) {
    case "health":
      return { path: "/health" };
    case "metrics":
      return { path: t.path };
    case "conversations":
      return { path: `/v1/conversations${t.query ? `?${t.query}` : ""}` };
    case "conversation": {
      const id = resolveId(t.id, scope);
      return { path: `/v1/conversations/${id}`, conversationId: id };
    }
    case "messages": {
      const id = resolveId(t.id, scope);
      return { path: `/v1/conversations/${id}/messages`, conversationId: id };
    }
    case "stream": {
      // An answer and its own conversation, when both are asked for: most conversations have none.
      const pair =
        t.id.kind === "conversation" && t.reply.kind === "reply" && t.reply.in === "this conversation"
          ? choose(scope.lookup.repliesOf(whose(t.id.of, scope.self)), t.reply.pick)
          : undefined;
      const id = pair?.conversationId ?? resolveId(t.id, scope);
      const replyId = pair?.replyId ?? resolveReply(t.reply, id, scope);
      const query = t.query ? `?${t.query}` : "";
      return { path: `/v1/conversations/${id}/messages/${replyId}/stream${query}`, conversationId: id, replyId };
    }
  }
}

function bend(path: string, how: Bend): string {
  const [pathname, query] = path.split("?", 2) as [string, string | undefined];
  const q = query === undefined ? "" : `?${query}`;
  switch (how) {
    case "trailing-slash":
      return `${pathname}/${q}`;
    case "double-slash":
      return `${pathname.replace("/", "//")}${q}`;
    case "upper-case":
      return `${pathname.toUpperCase()}${q}`;
    case "dot-segment":
      return `${pathname.replace(/\/([^/]*)$/, "/./$1")}${q}`;
    case "dot-dot":
      return `${pathname}/../..${q}`;
    case "encoded-letter":
      return `${pathname.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}${q}`;
    case "encoded-slash":
      return `${pathname.replace(/\/([^/]*)$/, "%2F$1")}${q}`;
    case "semicolon":
      return `${pathname};jsessionid=1${q}`;
    case "v2":
      return `${pathname.replace("/v1", "/v2")}${q}`;
    case "no-version":
      return `${pathname.replace("/v1", "")}${q}`;
    case "extra-segment":
      return `${pathname}/extra${q}`;
    case "fragment":
      return `${pathname}#frag${q}`;
  }
}

function tokenText(kind: TokenKind, lookup: Lookup): string | undefined {
  if (kind.kind === "none") return undefined;
  if (kind.kind === "garbage") return kind.value;
  return lookup.token(kind);
}

function bodyBytes(body: Body): { bytes?: Buffer; encoding?: string } {
  switch (body.kind) {
    case "none":
      return {};
    case "json":
      return { bytes: Buffer.from(JSON.stringify(body.value) ?? "") };
    case "text":
      return { bytes: Buffer.from(body.text) };
    case "bytes":
      return { bytes: Buffer.from(body.bytes) };
    case "nested": {
      const [open, close] = body.shape === "array" ? ["[", "]"] : ['{"a":', "}"];
      const inner = `${open.repeat(body.depth)}1${close.repeat(body.depth)}`;
      return { bytes: Buffer.from(body.underKey ? `{"${body.underKey}":${inner}}` : inner) };
    }
    case "huge": {
      const text = "x".repeat(body.chars);
      if (body.field === "whole") return { bytes: Buffer.from(JSON.stringify(text)) };
      return { bytes: Buffer.from(JSON.stringify({ [body.field]: text })) };
    }
    case "compressed": {
      const json = Buffer.from(JSON.stringify(body.inner));
      const compress = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync }[body.encoding];
      return { bytes: compress(json), encoding: body.encoding };
    }
  }
}

/** The request as bytes on the wire, its ids resolved against what the store holds now. */
export function toWire(request: FuzzRequest, lookup: Lookup, siteHost: string): WireRequest {
  const t = request.target;
  const token = request.auth?.token;
  const scope: Scope = { lookup, self: token && "user" in token ? token.user : "alice" };
  let resolved: { path: string; conversationId?: string; replyId?: string };
  let route: Target["route"] = t.route;
  if (t.route === "raw") {
    resolved = { path: t.path };
  } else if (t.route === "near-miss") {
    const base = pathOf(t.base, scope);
    resolved = { ...base, path: bend(base.path, t.bend) };
    route = t.base.route;
  } else {
    resolved = pathOf(t, scope);
  }

  const h = request.headers;
  const headers: Record<string, string> = {};
  for (const [name, value] of h.extra) headers[name] = value;
  headers.host = h.host ?? siteHost;
  const { bytes, encoding } = bodyBytes(request.body);
  if (h.contentType !== undefined) headers["content-type"] = h.contentType;
  else if (bytes !== undefined) headers["content-type"] = "application/json";
  const contentEncoding = h.contentEncoding ?? encoding;
  if (contentEncoding !== undefined) headers["content-encoding"] = contentEncoding;
  if (h.accept !== undefined) headers.accept = h.accept;
  if (h.acceptEncoding !== undefined) headers["accept-encoding"] = h.acceptEncoding;
  if (h.xForwardedFor !== undefined) headers["x-forwarded-for"] = h.xForwardedFor;
  if (h.lastEventId !== undefined) headers["last-event-id"] = h.lastEventId;
  if (h.padding !== undefined) headers["x-fuzz-padding"] = "p".repeat(h.padding);

  let as: User | undefined;
  if (request.auth) {
    const token = tokenText(request.auth.token, lookup);
    headers.authorization = `${request.auth.scheme}${request.auth.separator}${token ?? ""}`;
    const kind = request.auth.token;
    const bearer = /^bearer$/i.test(request.auth.scheme) && /^\s+$/.test(request.auth.separator);
    if (bearer && (kind.kind === "valid" || kind.kind === "far-future")) as = kind.user;
  }
  const isId = (s: string | undefined) => (s && UUID.test(s) ? s : undefined);
  return {
    method: request.method,
    path: resolved.path,
    headers,
    body: bytes,
    chunked: request.headers.chunked,
    hangUp: request.headers.hangUp,
    as,
    site: isSiteHost(headers.host),
    route,
    conversationId: isId(resolved.conversationId),
    replyId: isId(resolved.replyId),
  };
}

/** The Host names Caddy's site (host names match in any case, whatever the port). */
export function isSiteHost(host: string | undefined): boolean {
  return host !== undefined && /^localhost(:\d+)?$/i.test(host);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
