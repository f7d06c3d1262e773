// The API settings an operator may change, declared once: the stack config
// key and the API's environment variable. Their types, defaults and checks
// are the API's own (app/src/config/env.ts): Pulumi.yaml declares each as a
// string defaulting to "" (a declared key without a default would be
// required), an empty value leaves the API's default, and a stack value is
// checked by the API's own reader before any resource is touched. A test keeps Pulumi.yaml, the host's .env template,
// the compose file and the API agreeing on these names.
import { ConfigError, loadConfig } from "../../app/src/config/env.js";

export interface ApiSetting {
  /** The stack config key. */
  key: string;
  /** The API's environment variable. */
  env: string;
  description: string;
}

export const API_SETTINGS: readonly ApiSetting[] = [
  { key: "logLevel", env: "LOG_LEVEL", description: "debug, info, warn or error." },
  { key: "llmModel", env: "LLM_MODEL", description: "The default model." },
  {
    key: "llmAllowedModels",
    env: "LLM_ALLOWED_MODELS",
    description: "Other models a request may ask for, comma-separated.",
  },
  { key: "llmMaxTokens", env: "LLM_MAX_TOKENS", description: "Output limit per answer, in tokens." },
  {
    key: "historyMaxMessages",
    env: "HISTORY_MAX_MESSAGES",
    description: "Messages of history sent as context.",
  },
  {
    key: "maxMessageChars",
    env: "MAX_MESSAGE_CHARS",
    description: "Longest message accepted, in characters.",
  },
  {
    key: "rateLimitRequests",
    env: "RATE_LIMIT_REQUESTS",
    description: "Requests per window per user (a client address has its own limit, rateLimitIpRequests).",
  },
  {
    key: "contextMaxTokens",
    env: "CONTEXT_MAX_TOKENS",
    description: "History sent as context, in estimated tokens (4 characters a token).",
  },
  {
    key: "chatRetention",
    env: "CHAT_RETENTION",
    description: "Age after which messages are removed, e.g. 365d; 0 keeps them until deleted.",
  },
  {
    key: "chatMaxBytes",
    env: "CHAT_MAX_BYTES",
    description: "Storage for conversations, e.g. 10GB; past it new messages get 503.",
  },
  {
    key: "maxActiveAnswersPerUser",
    env: "MAX_ACTIVE_ANSWERS_PER_USER",
    description: "Answers one user may have in progress at once.",
  },
  { key: "jwtIssuer", env: "JWT_ISSUER", description: "The iss claim every token must carry; unset: not checked." },
  { key: "jwtAudience", env: "JWT_AUDIENCE", description: "The aud claim every token must carry; unset: not checked." },
  {
    key: "jwtMaxLifetime",
    env: "JWT_MAX_LIFETIME",
    description: "The longest a token may be valid (exp after iat, and after now), e.g. 24h; at most 30d.",
  },
  { key: "rateLimitWindow", env: "RATE_LIMIT_WINDOW", description: "The rate limit window, e.g. 1m." },
  {
    key: "disconnectPolicy",
    env: "DISCONNECT_POLICY",
    description: "continue (keep generating for a resume) or cancel when a client hangs up.",
  },
  {
    key: "upstreamIdleTimeout",
    env: "UPSTREAM_IDLE_TIMEOUT",
    description: "Silence from the provider before the answer fails, e.g. 60s.",
  },
  {
    key: "generationLease",
    env: "GENERATION_LEASE",
    description: "Silence after which a dead instance's answer is ended, e.g. 15s.",
  },
  {
    key: "sseKeepAlive",
    env: "SSE_KEEPALIVE",
    description: "Interval of keep-alive comments on event streams, e.g. 15s.",
  },
  {
    key: "requestTimeout",
    env: "REQUEST_TIMEOUT",
    description: "Time a client has to send a request's headers and body, e.g. 30s; never cuts a response.",
  },
  {
    key: "tracingEnabled",
    env: "TRACING_ENABLED",
    description: "Send OTLP/HTTP traces (true or false).",
  },
  {
    key: "tracingEndpoint",
    env: "TRACING_ENDPOINT",
    description: "The OTLP/HTTP collector, e.g. http://otel-collector:4318.",
  },
  {
    key: "openaiBaseUrl",
    env: "OPENAI_BASE_URL",
    description: "Base URL of an OpenAI-compatible server (ending in /v1); unset for OpenAI itself.",
  },
  {
    key: "anthropicBaseUrl",
    env: "ANTHROPIC_BASE_URL",
    description: "Base URL of an Anthropic-compatible gateway; unset for Anthropic itself.",
  },
  {
    key: "rateLimitIpRequests",
    env: "RATE_LIMIT_IP_REQUESTS",
    description:
      "Requests per window from one client address (IPv4, or IPv6 /64), whatever its users; default 10 x rateLimitRequests.",
  },
  {
    key: "userInputTokensPerWindow",
    env: "USER_INPUT_TOKENS_PER_WINDOW",
    description: "Tokens one user may send to the model per userTokenWindow (default 1000000); 0: no budget.",
  },
  {
    key: "userOutputTokensPerWindow",
    env: "USER_OUTPUT_TOKENS_PER_WINDOW",
    description: "Tokens one user's answers may take per userTokenWindow (default 200000); 0: no budget.",
  },
  {
    key: "userTokenWindow",
    env: "USER_TOKEN_WINDOW",
    description: "The token budgets' window, e.g. 1h (the default).",
  },
  {
    key: "userMaxStoredBytes",
    env: "USER_MAX_STORED_BYTES",
    description: "Bytes one user's conversations may hold, e.g. 100MB (default 1% of chatMaxBytes); 0: no quota.",
  },
  {
    key: "corsOrigins",
    env: "CORS_ORIGINS",
    description:
      "Origins of browser clients allowed to call the API, comma-separated, e.g. https://chat.example.com; unset: none.",
  },
];

/** Why a setting was refused: the key, the API's own words, and the fix. */
export interface ApiSettingProblem {
  key: string;
  problem: string;
}

/**
 * Checks the stack's API settings with the API's own reader, as the API will
 * read them on the host (other variables stand in for the secrets, which the
 * stack checks itself). Returns the first problem, or undefined.
 */
export function checkApiSettings(
  settings: Readonly<Record<string, string>>,
  provider: "anthropic" | "openai" | "mock",
): ApiSettingProblem | undefined {
  const env: Record<string, string> = {
    NATS_URL: "nats://nats:4222",
    NATS_TOKEN: "x".repeat(16),
    JWT_SECRET: "x".repeat(32),
    LLM_PROVIDER: provider,
    ANTHROPIC_API_KEY: "stand-in",
    OPENAI_API_KEY: "stand-in",
    ...settings,
  };
  try {
    loadConfig(env);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const setting = API_SETTINGS.find((s) => s.env === error.variable);
    if (!setting) throw error;
    // The API's words, with its variable names as the stack's keys.
    let problem = error.message.slice(error.variable.length + 2);
    for (const other of API_SETTINGS) problem = problem.replaceAll(other.env, other.key);
    return { key: setting.key, problem };
  }
}
