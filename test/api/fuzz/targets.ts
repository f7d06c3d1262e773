// Where a fuzz request goes, and with which method: the API's routes with
// symbolic ids (someone's conversation, a deleted one, no id at all), their
// queries, near misses of real paths, and raw paths.
import fc from "fast-check";
import { headerText, pick, sometimes } from "./basics.js";
import { BENDS, type IdRef, type ReplyRef, type Target } from "./request-types.js";

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

export const listQuery = fc.oneof(
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
export const lastEventIdHeader = lastEventId.filter((id) => /^[\t\x20-\x7e\x80-\xff]*$/.test(id));

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

export const target: fc.Arbitrary<Target> = fc.oneof(
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

export const methodFor = (t: Target): fc.Arbitrary<string> => {
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
