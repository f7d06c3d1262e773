import Anthropic from "@anthropic-ai/sdk";
import type { GenerateRequest, LlmProvider, ProviderEvent } from "./types.js";

export function anthropicProvider(options: { apiKey: string; baseURL?: string }): LlmProvider {
  // Retries are ours to decide: a retried stream could repeat text the client
  // already has, so the SDK must not retry behind our back.
  const client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0 });
  return {
    name: "anthropic",
    async *stream(request: GenerateRequest): AsyncIterable<ProviderEvent> {
      const stream = await client.messages.create(
        {
          model: request.model,
          max_tokens: request.maxOutputTokens,
          messages: request.messages,
          stream: true,
        },
        { signal: request.signal },
      );
      for await (const event of stream) {
        switch (event.type) {
          case "message_start":
            yield {
              type: "usage",
              inputTokens: event.message.usage.input_tokens,
              outputTokens: event.message.usage.output_tokens,
            };
            break;
          case "content_block_delta":
            if (event.delta.type === "text_delta") yield { type: "delta", text: event.delta.text };
            break;
          case "message_delta":
            // Anthropic's output count here is cumulative, not an increment.
            yield { type: "usage", outputTokens: event.usage.output_tokens };
            if (event.delta.stop_reason) yield { type: "stop", reason: event.delta.stop_reason };
            break;
          default:
            break;
        }
      }
    },
  };
}
