// What a fuzz request carries: bodies the routes take, bodies one step from
// valid, and broken, deep, huge or compressed ones.
import fc from "fast-check";
import type { Body, Limits, Target } from "./request-types.js";

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
export const createBody = fc.oneof(
  { weight: 3, arbitrary: fc.record({ title }, { requiredKeys: [] }) },
  fc.constant(null),
);

export const sendBody = (limits: Limits) =>
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

export const body = (limits: Limits, route: Target["route"]): fc.Arbitrary<Body> =>
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
