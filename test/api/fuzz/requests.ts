// What the API fuzzer (test/api/fuzz.test.ts) sends: fast-check generators
// of requests, ordinary and hostile, made of the parts in this folder
// (request-types.ts says what a request is; to-wire.ts turns one into bytes
// on the wire). A request names conversations symbolically ("the other
// user's third conversation"), so it means the same thing whatever the
// store holds when it runs, during shrinking and on a replay too.
import fc from "fast-check";
import { auth } from "./auth.js";
import { pick, sometimes, user } from "./basics.js";
import { body, createBody, sendBody } from "./bodies.js";
import { headers } from "./headers.js";
import type { FuzzRequest, Limits } from "./request-types.js";
import { listQuery, methodFor, target } from "./targets.js";

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
