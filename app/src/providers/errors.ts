// Turns whatever a provider SDK throws into one stable error a client can act
// on. Messages name what happened upstream and never echo a key or a prompt.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

export interface UpstreamFailure {
  code:
    | "upstream_rate_limited"
    | "upstream_overloaded"
    | "upstream_error"
    | "upstream_rejected"
    | "upstream_unavailable"
    | "upstream_timeout"
    | "upstream_stream_broken";
  message: string;
}

export class UpstreamIdleTimeout extends Error {
  constructor(readonly idleMs: number) {
    super(`no data from the model provider for ${idleMs} ms`);
  }
}

export function classifyUpstreamError(err: unknown, provider: string): UpstreamFailure {
  if (err instanceof UpstreamIdleTimeout) {
    return { code: "upstream_timeout", message: `The ${provider} API stopped sending data (${err.message}).` };
  }
  if (err instanceof Anthropic.APIConnectionError || err instanceof OpenAI.APIConnectionError) {
    return { code: "upstream_unavailable", message: `The ${provider} API could not be reached.` };
  }
  if (err instanceof Anthropic.APIError || err instanceof OpenAI.APIError) {
    const status = err.status;
    const kind = errorType(err.error);
    if (status === 429 || kind === "rate_limit_error") {
      return {
        code: "upstream_rate_limited",
        message: `The ${provider} API is rate limiting this platform; try again shortly.`,
      };
    }
    if (status === 529 || kind === "overloaded_error") {
      return { code: "upstream_overloaded", message: `The ${provider} API is overloaded; try again shortly.` };
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return { code: "upstream_rejected", message: `The ${provider} API rejected the request (HTTP ${status}).` };
    }
    return {
      code: "upstream_error",
      message: status
        ? `The ${provider} API failed (HTTP ${status}).`
        : `The ${provider} API reported an error mid-stream${kind ? ` (${kind})` : ""}.`,
    };
  }
  return { code: "upstream_stream_broken", message: `The stream from the ${provider} API broke off.` };
}

function errorType(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const inner = (body as { error?: unknown }).error ?? body;
  const type = (inner as { type?: unknown }).type ?? (inner as { code?: unknown }).code;
  return typeof type === "string" ? type : undefined;
}
