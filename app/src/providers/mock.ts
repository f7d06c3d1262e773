import { setTimeout as sleep } from "node:timers/promises";
import type { GenerateRequest, LlmProvider, ProviderEvent } from "./types.js";

/**
 * A local stand-in for trying the platform without an API key. Every answer
 * says plainly that it comes from the mock provider, so nobody mistakes it
 * for a model.
 */
export function mockProvider(options: { delayMs?: number } = {}): LlmProvider {
  const delayMs = options.delayMs ?? 30;
  return {
    name: "mock",
    async *stream(request: GenerateRequest): AsyncIterable<ProviderEvent> {
      const last = request.messages.at(-1)?.content ?? "";
      const answer = `[mock provider: no model was called] You said: ${last}`;
      const words = answer.split(/(?<= )/);
      yield {
        type: "usage",
        inputTokens: countWords(request.messages.map((m) => m.content).join(" ")),
        outputTokens: 0,
      };
      for (const word of words) {
        await sleep(delayMs, undefined, { signal: request.signal });
        yield { type: "delta", text: word };
      }
      yield { type: "usage", outputTokens: words.length };
      yield { type: "stop", reason: "end_turn" };
    },
  };
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}
