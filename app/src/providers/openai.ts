import OpenAI from "openai";
import type { GenerateRequest, LlmProvider, ProviderEvent } from "./types.js";

/** OpenAI, or any server that speaks its Chat Completions API (vLLM, Ollama...). */
export function openaiProvider(options: { apiKey: string; baseURL?: string }): LlmProvider {
  const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0 });
  return {
    name: "openai",
    async *stream(request: GenerateRequest): AsyncIterable<ProviderEvent> {
      const stream = await client.chat.completions.create(
        {
          model: request.model,
          max_completion_tokens: request.maxOutputTokens,
          messages: request.messages,
          stream: true,
          // Without this the stream carries no token counts at all.
          stream_options: { include_usage: true },
        },
        { signal: request.signal },
      );
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (choice?.delta.content) yield { type: "delta", text: choice.delta.content };
        if (choice?.finish_reason) yield { type: "stop", reason: choice.finish_reason };
        if (chunk.usage) {
          yield { type: "usage", inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
        }
      }
    },
  };
}
