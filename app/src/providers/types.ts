// What the chat flow needs from a model provider: a stream of text deltas,
// usage as the provider reports it, and the reason the answer stopped.
export interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

export interface GenerateRequest {
  model: string;
  messages: ChatTurn[];
  maxOutputTokens: number;
  signal: AbortSignal;
}

export type ProviderEvent =
  | { type: "delta"; text: string }
  /** Usage so far; either count may be missing until the provider reports it. */
  | { type: "usage"; inputTokens?: number; outputTokens?: number }
  | { type: "stop"; reason: string };

export interface LlmProvider {
  readonly name: "anthropic" | "openai" | "mock";
  stream(request: GenerateRequest): AsyncIterable<ProviderEvent>;
}
