// The API's whole environment contract, read and checked in one place.
// Start-up stops on the first bad value with one line naming the variable and
// the fix, so a typo in an .env file never becomes a half-working server.
import { z } from "zod";
import { MAX_TOKEN_LIFETIME_MS } from "../auth/token-lifetime.js";
import {
  booleanFlag,
  ConfigError,
  byteSize,
  commaList,
  describeValue,
  duration,
  GIB,
  httpUrl,
  MIB,
  MIN_USER_QUOTA_BYTES,
  natsUrls,
  optionalString,
  port,
  positiveInt,
  safeHostname,
  subjectToken,
  webOrigin,
  wholeNumber,
} from "./values.js";
import { natsCredentials } from "./nats-credentials.js";

export { ConfigError };

export type ProviderName = "anthropic" | "openai" | "mock";
export type DisconnectPolicy = "continue" | "cancel";

export interface Config {
  serverHost: string;
  serverPort: number;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  instanceId: string;
  natsServers: string[];
  /** A user and password (the stack's NATS users), a token (a NATS of your own), or both while a stack moves from its token to users. */
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  natsReplicas: number;
  jwtSecret: string;
  /** The key a rotation replaced, accepted until `until` (ms since the epoch; unset: while it is set). */
  jwtPreviousSecret?: { secret: string; until?: number };
  /** The longest a token may be valid: `exp` at most this after `iat`, and after now. */
  jwtMaxLifetimeMs: number;
  /** Required `iss` and `aud` claims, when set. */
  jwtIssuer?: string;
  jwtAudience?: string;
  provider: ProviderName;
  anthropicApiKey?: string;
  anthropicBaseUrl?: string;
  openaiApiKey?: string;
  openaiBaseUrl?: string;
  model: string;
  allowedModels: string[];
  maxOutputTokens: number;
  historyMaxMessages: number;
  /** Estimated tokens of history sent as context (4 characters a token). */
  contextMaxTokens: number;
  /** Age after which a conversation's messages are removed; 0 keeps them until deleted. */
  chatRetentionMs: number;
  /** Storage for conversations; past it, new messages are refused with 503. */
  chatMaxBytes: number;
  /** Answers one user may have in progress at once, across instances. */
  maxActiveAnswersPerUser: number;
  maxMessageChars: number;
  rateLimitRequests: number;
  /** Requests per window from one client address (IPv4, or IPv6 /64), whoever the users behind it. */
  rateLimitIpRequests: number;
  rateLimitWindowMs: number;
  /** Tokens one user may send to the model per window (estimated first, then as reported); 0: no budget. */
  userInputTokensPerWindow: number;
  /** Tokens one user's answers may take per window; 0: no budget. */
  userOutputTokensPerWindow: number;
  userTokenWindowMs: number;
  /** Bytes one user's conversations may hold; 0: no quota. */
  userMaxStoredBytes: number;
  /** Origins whose pages may call the API from a browser; empty: none (no CORS answer). */
  corsOrigins: string[];
  trustedProxies: string[];
  disconnectPolicy: DisconnectPolicy;
  shutdownGraceMs: number;
  drainDelayMs: number;
  upstreamIdleTimeoutMs: number;
  sseKeepAliveMs: number;
  /** Time to receive a request's headers and body (never its response: a stream may last longer). */
  requestTimeoutMs: number;
  /** How long an answer's lease lasts unrenewed (the store's leaseTtlMs, the leases bucket's TTL). */
  generationLeaseMs: number;
  tracingEnabled: boolean;
  tracingEndpoint?: string;
}

const DEFAULT_MODELS: Record<ProviderName, string> = {
  anthropic: "claude-sonnet-4-6",
  openai: "gpt-4o-mini",
  mock: "mock-echo",
};

type Env = Record<string, string | undefined>;

/** Reads the environment into a typed Config, or throws a ConfigError. */
export function loadConfig(env: Env = process.env): Config {
  const read = <T>(name: string, schema: z.ZodType<T>, fix: string): T => {
    const raw = env[name];
    const result = schema.safeParse(raw === "" ? undefined : raw);
    if (!result.success) {
      const got = raw === undefined || raw === "" ? "is not set" : `is invalid (${describeValue(name, raw)})`;
      throw new ConfigError(name, `${got}; ${fix}`);
    }
    return result.data;
  };

  const anthropicApiKey = read("ANTHROPIC_API_KEY", optionalString, "set it to your Anthropic API key");
  const openaiApiKey = read("OPENAI_API_KEY", optionalString, "set it to your OpenAI API key");
  const explicitProvider = read(
    "LLM_PROVIDER",
    z.enum(["anthropic", "openai", "mock"]).optional(),
    'use "anthropic", "openai" or "mock"',
  );
  const provider = explicitProvider ?? (anthropicApiKey ? "anthropic" : openaiApiKey ? "openai" : undefined);
  if (!provider) {
    throw new ConfigError(
      "ANTHROPIC_API_KEY",
      "no LLM provider is configured; set ANTHROPIC_API_KEY or OPENAI_API_KEY, or LLM_PROVIDER=mock to try the platform without a key",
    );
  }
  if (provider === "anthropic" && !anthropicApiKey) {
    throw new ConfigError(
      "ANTHROPIC_API_KEY",
      'is not set but LLM_PROVIDER is "anthropic"; set the key or change LLM_PROVIDER',
    );
  }
  if (provider === "openai" && !openaiApiKey) {
    throw new ConfigError(
      "OPENAI_API_KEY",
      'is not set but LLM_PROVIDER is "openai"; set the key or change LLM_PROVIDER',
    );
  }

  const model = read("LLM_MODEL", z.string().default(DEFAULT_MODELS[provider]), "name the model to use");
  const extraModels = read("LLM_ALLOWED_MODELS", commaList.default([]), "give a comma-separated list of model names");

  const tracingEnabled = read("TRACING_ENABLED", booleanFlag.default(false), 'use "true" or "false"');
  const tracingEndpoint = read(
    "TRACING_ENDPOINT",
    httpUrl.optional(),
    "give the OTLP/HTTP collector URL, e.g. http://otel-collector:4318",
  );
  if (tracingEnabled && !tracingEndpoint) {
    throw new ConfigError(
      "TRACING_ENDPOINT",
      "is not set but TRACING_ENABLED is true; give the OTLP/HTTP collector URL, e.g. http://otel-collector:4318",
    );
  }

  const nats = natsCredentials(read);
  const jwtPreviousSecret = read(
    "JWT_PREVIOUS_SECRET",
    z.string().min(32).optional(),
    "the secret a rotation replaced, 32+ characters (npm run ops -- rotate jwt sets it)",
  );
  const jwtPreviousUntil = read(
    "JWT_PREVIOUS_SECRET_UNTIL",
    z.iso.datetime({ offset: true }).optional(),
    "give the time the previous secret stops being accepted, e.g. 2026-12-08T12:00:00Z",
  );

  const base = {
    serverHost: read("SERVER_HOST", z.string().default("0.0.0.0"), "give an address to listen on, e.g. 0.0.0.0"),
    serverPort: read("SERVER_PORT", port.default(8080), "use a port number between 1 and 65535"),
    logLevel: read(
      "LOG_LEVEL",
      z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
      "use debug, info, warn or error",
    ),
    instanceId: read("INSTANCE_ID", subjectToken.default(safeHostname()), "use letters, digits, '-' or '_' only"),
    natsServers: read(
      "NATS_URL",
      natsUrls,
      "give the NATS URL, e.g. nats://nats:4222 (comma-separate several for a cluster)",
    ),
    ...nats,
    natsReplicas: read(
      "NATS_STREAM_REPLICAS",
      z.coerce.number().int().min(1).max(5).default(1),
      "use 1 for a single NATS server, 3 for a 3-node cluster",
    ),
    jwtSecret: read("JWT_SECRET", z.string().min(32), "generate one with: openssl rand -base64 32 (32+ characters)"),
    jwtPreviousSecret: jwtPreviousSecret
      ? { secret: jwtPreviousSecret, until: jwtPreviousUntil ? Date.parse(jwtPreviousUntil) : undefined }
      : undefined,
    jwtMaxLifetimeMs: read(
      "JWT_MAX_LIFETIME",
      duration({ minMs: 60_000 })
        .pipe(z.number().max(MAX_TOKEN_LIFETIME_MS))
        .default(24 * 3600_000),
      'use a duration from 1m to 30d, e.g. "24h"',
    ),
    jwtIssuer: read("JWT_ISSUER", optionalString, "name the issuer your tokens carry in `iss`"),
    jwtAudience: read("JWT_AUDIENCE", optionalString, "name the audience your tokens carry in `aud`"),
    provider,
    anthropicApiKey,
    anthropicBaseUrl: read(
      "ANTHROPIC_BASE_URL",
      httpUrl.optional(),
      "give an http(s) URL, e.g. https://api.anthropic.com",
    ),
    openaiApiKey,
    openaiBaseUrl: read(
      "OPENAI_BASE_URL",
      httpUrl.optional(),
      "give an http(s) URL ending in /v1, e.g. https://api.openai.com/v1",
    ),
    model,
    allowedModels: [...new Set([model, ...extraModels])],
    // An ended answer is stored as one NATS message (1 MB at most).
    maxOutputTokens: read(
      "LLM_MAX_TOKENS",
      positiveInt.pipe(z.number().max(64_000)).default(1024),
      "use a whole number of tokens up to 64000, e.g. 1024",
    ),
    historyMaxMessages: read("HISTORY_MAX_MESSAGES", positiveInt.default(50), "use a whole number, e.g. 50"),
    contextMaxTokens: read(
      "CONTEXT_MAX_TOKENS",
      z.coerce.number().int().min(1000).max(200_000).default(32_000),
      "use a whole number of tokens between 1000 and 200000, e.g. 32000",
    ),
    chatRetentionMs: read(
      "CHAT_RETENTION",
      duration({ minMs: 0 }).default(0),
      'use a duration such as "365d", or 0 to keep messages until their conversation is deleted',
    ),
    chatMaxBytes: read(
      "CHAT_MAX_BYTES",
      byteSize
        .pipe(
          z
            .number()
            .int()
            .min(MIB)
            .max(12 * GIB),
        )
        .default(10 * GIB),
      'use a size from 1MB to 12GB, e.g. "10GB": with its buckets it must fit in the NATS server\'s max_file_store (20GB in templates/stack/nats-server.conf)',
    ),
    maxActiveAnswersPerUser: read("MAX_ACTIVE_ANSWERS_PER_USER", positiveInt.default(3), "use a whole number, e.g. 3"),
    maxMessageChars: read(
      "MAX_MESSAGE_CHARS",
      positiveInt.default(32_000),
      "use a whole number of characters, e.g. 32000",
    ),
    rateLimitRequests: read("RATE_LIMIT_REQUESTS", positiveInt.default(60), "use a whole number of requests, e.g. 60"),
    rateLimitWindowMs: read(
      "RATE_LIMIT_WINDOW",
      duration({ minMs: 1000 }).default(60_000),
      'use a duration of at least 1s, e.g. "1m" or "30s"',
    ),
    trustedProxies: read(
      "TRUSTED_PROXIES",
      commaList.default(["loopback"]),
      'give the proxy addresses or CIDRs, comma-separated, e.g. "127.0.0.1,172.18.0.0/16"',
    ),
    disconnectPolicy: read(
      "DISCONNECT_POLICY",
      z.enum(["continue", "cancel"]).default("continue"),
      'use "continue" (keep generating for resume) or "cancel"',
    ),
    shutdownGraceMs: read("SHUTDOWN_GRACE", duration({ minMs: 0 }).default(30_000), 'use a duration, e.g. "30s"'),
    drainDelayMs: read("DRAIN_DELAY", duration({ minMs: 0 }).default(0), 'use a duration, e.g. "3s"'),
    upstreamIdleTimeoutMs: read(
      "UPSTREAM_IDLE_TIMEOUT",
      duration({ minMs: 100 }).default(60_000),
      'use a duration, e.g. "60s"',
    ),
    sseKeepAliveMs: read("SSE_KEEPALIVE", duration({ minMs: 100 }).default(15_000), 'use a duration, e.g. "15s"'),
    requestTimeoutMs: read(
      "REQUEST_TIMEOUT",
      duration({ minMs: 1000 }).default(30_000),
      'use a duration of at least 1s, e.g. "30s"',
    ),
    generationLeaseMs: read(
      "GENERATION_LEASE",
      duration({ minMs: 1000 }).default(15_000),
      'use a duration of at least 1s, e.g. "15s"',
    ),
    tracingEnabled,
    tracingEndpoint,
  };
  return { ...base, ...readQuotas(read, base) };
}

type Read = <T>(name: string, schema: z.ZodType<T>, fix: string) => T;
type QuotaSettings = Pick<
  Config,
  | "rateLimitIpRequests"
  | "userInputTokensPerWindow"
  | "userOutputTokensPerWindow"
  | "userTokenWindowMs"
  | "userMaxStoredBytes"
  | "corsOrigins"
>;

/** What one user, or one address, may take; their defaults follow the settings they must agree with. */
function readQuotas(
  read: Read,
  base: Pick<Config, "rateLimitRequests" | "contextMaxTokens" | "maxOutputTokens" | "chatMaxBytes">,
): QuotaSettings {
  // An answer reserves its whole output limit up front, and a window must
  // hold at least one full context, or some messages could never be sent.
  const atLeast = (name: string, value: number, floor: [string, number]) => {
    if (value > 0 && value < floor[1]) {
      throw new ConfigError(
        name,
        `is ${value}, less than ${floor[0]} (${floor[1]}), so some messages could never be sent; raise it to at least ${floor[1]}, or use 0 for no budget`,
      );
    }
    return value;
  };
  const tokensFix = "use a whole number of tokens, or 0 for no budget";
  const ipDefault = 10 * base.rateLimitRequests;
  return {
    // Ten users behind one address (an office, a carrier's NAT) before its limit is the tighter one.
    rateLimitIpRequests: read(
      "RATE_LIMIT_IP_REQUESTS",
      positiveInt.default(ipDefault),
      `use a whole number of requests, e.g. ${ipDefault} (ten times RATE_LIMIT_REQUESTS, the default)`,
    ),
    userInputTokensPerWindow: atLeast(
      "USER_INPUT_TOKENS_PER_WINDOW",
      read("USER_INPUT_TOKENS_PER_WINDOW", wholeNumber.default(1_000_000), tokensFix),
      ["CONTEXT_MAX_TOKENS", base.contextMaxTokens],
    ),
    userOutputTokensPerWindow: atLeast(
      "USER_OUTPUT_TOKENS_PER_WINDOW",
      read("USER_OUTPUT_TOKENS_PER_WINDOW", wholeNumber.default(200_000), tokensFix),
      ["LLM_MAX_TOKENS", base.maxOutputTokens],
    ),
    userTokenWindowMs: read(
      "USER_TOKEN_WINDOW",
      duration({ minMs: 1000 }).default(3_600_000),
      'use a duration of at least 1s, e.g. "1h" or "1d"',
    ),
    userMaxStoredBytes: read(
      "USER_MAX_STORED_BYTES",
      byteSize
        .pipe(
          z
            .number()
            .int()
            .refine((n) => n === 0 || n >= MIN_USER_QUOTA_BYTES),
        )
        .default(Math.max(MIN_USER_QUOTA_BYTES, Math.floor(base.chatMaxBytes / 100))),
      'use a size of at least 64KB, e.g. "100MB", or 0 for no quota (the default is 1% of CHAT_MAX_BYTES, 64KB at least)',
    ),
    corsOrigins: read(
      "CORS_ORIGINS",
      commaList.pipe(z.array(webOrigin)).default([]),
      'list the origins of your web clients, comma-separated, e.g. "https://chat.example.com,http://localhost:5173" (scheme, host and port only: no "*", no path)',
    ),
  };
}
