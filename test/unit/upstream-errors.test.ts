// The error classification against the SDKs' own error classes.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { classifyUpstreamError, UpstreamIdleTimeout } from "../../app/src/providers/errors.js";

describe("classifyUpstreamError", () => {
  it.each([
    [
      Anthropic.APIError.generate(
        429,
        { type: "error", error: { type: "rate_limit_error" } },
        undefined,
        new Headers(),
      ),
      "upstream_rate_limited",
    ],
    [
      Anthropic.APIError.generate(
        529,
        { type: "error", error: { type: "overloaded_error" } },
        undefined,
        new Headers(),
      ),
      "upstream_overloaded",
    ],
    [Anthropic.APIError.generate(500, undefined, undefined, new Headers()), "upstream_error"],
    [Anthropic.APIError.generate(401, undefined, undefined, new Headers()), "upstream_rejected"],
    [new Anthropic.APIConnectionError({ message: "refused" }), "upstream_unavailable"],
    [OpenAI.APIError.generate(429, undefined, undefined, new Headers()), "upstream_rate_limited"],
    [OpenAI.APIError.generate(503, undefined, undefined, new Headers()), "upstream_error"],
    [new OpenAI.APIConnectionError({ message: "refused" }), "upstream_unavailable"],
    [new UpstreamIdleTimeout(1000), "upstream_timeout"],
    [new TypeError("terminated"), "upstream_stream_broken"],
  ])("%s is %s", (err, code) => {
    const failure = classifyUpstreamError(err, "test");
    expect(failure.code).toBe(code);
    expect(failure.message).toMatch(/test API/);
  });
});
