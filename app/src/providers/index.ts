import type { Config } from "../config/env.js";
import { anthropicProvider } from "./anthropic.js";
import { mockProvider } from "./mock.js";
import { openaiProvider } from "./openai.js";
import type { LlmProvider } from "./types.js";

export function providerFromConfig(config: Config): LlmProvider {
  switch (config.provider) {
    case "anthropic":
      return anthropicProvider({ apiKey: config.anthropicApiKey ?? "", baseURL: config.anthropicBaseUrl });
    case "openai":
      return openaiProvider({ apiKey: config.openaiApiKey ?? "", baseURL: config.openaiBaseUrl });
    case "mock":
      return mockProvider();
  }
}
