import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../app/src/config/env.js";

const base = {
  NATS_URL: "nats://nats:4222",
  NATS_TOKEN: "0123456789abcdef0123",
  JWT_SECRET: "x".repeat(32),
  ANTHROPIC_API_KEY: "sk-ant-test",
};

function errorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies the guide's defaults", () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      serverPort: 8080,
      logLevel: "info",
      natsServers: ["nats://nats:4222"],
      provider: "anthropic",
      model: "claude-sonnet-4-6",
      allowedModels: ["claude-sonnet-4-6"],
      rateLimitRequests: 60,
      rateLimitWindowMs: 60_000,
      tracingEnabled: false,
      disconnectPolicy: "continue",
      trustedProxies: ["loopback"],
      shutdownGraceMs: 30_000,
    });
  });

  it("picks OpenAI when only its key is set, and reads an OpenAI-compatible base URL", () => {
    const config = loadConfig({
      ...base,
      ANTHROPIC_API_KEY: undefined,
      OPENAI_API_KEY: "sk-x",
      OPENAI_BASE_URL: "http://vllm:8000/v1",
    });
    expect(config.provider).toBe("openai");
    expect(config.model).toBe("gpt-4o-mini");
    expect(config.openaiBaseUrl).toBe("http://vllm:8000/v1");
  });

  it("reads durations, lists and flags", () => {
    const config = loadConfig({
      ...base,
      RATE_LIMIT_WINDOW: "30s",
      SHUTDOWN_GRACE: "90",
      NATS_URL: "nats://a:4222, nats://b:4222",
      LLM_ALLOWED_MODELS: "claude-haiku-4-5,claude-opus-4-7",
      TRACING_ENABLED: "1",
      TRACING_ENDPOINT: "http://otel:4318",
    });
    expect(config.rateLimitWindowMs).toBe(30_000);
    expect(config.shutdownGraceMs).toBe(90_000);
    expect(config.natsServers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(config.allowedModels).toEqual(["claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7"]);
    expect(config.tracingEnabled).toBe(true);
  });

  it.each([
    [{ NATS_URL: undefined }, "NATS_URL", /is not set/],
    [{ NATS_URL: "http://nats:4222" }, "NATS_URL", /nats:\/\/nats:4222/],
    [{ NATS_TOKEN: "short" }, "NATS_TOKEN", /5 characters.*openssl rand/],
    [{ JWT_SECRET: "x".repeat(31) }, "JWT_SECRET", /31 characters.*32\+ characters/],
    [{ SERVER_PORT: "99999" }, "SERVER_PORT", /"99999".*between 1 and 65535/],
    [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL", /"verbose"/],
    [{ RATE_LIMIT_REQUESTS: "-1" }, "RATE_LIMIT_REQUESTS", /whole number/],
    [{ RATE_LIMIT_WINDOW: "500ms" }, "RATE_LIMIT_WINDOW", /at least 1s/],
    [{ LLM_PROVIDER: "gemini" }, "LLM_PROVIDER", /"anthropic", "openai" or "mock"/],
    [{ LLM_PROVIDER: "openai" }, "OPENAI_API_KEY", /LLM_PROVIDER is "openai"/],
    [{ ANTHROPIC_API_KEY: undefined }, "ANTHROPIC_API_KEY", /LLM_PROVIDER=mock/],
    [{ DISCONNECT_POLICY: "maybe" }, "DISCONNECT_POLICY", /"continue".*"cancel"/],
    [{ TRACING_ENABLED: "yes" }, "TRACING_ENABLED", /"true" or "false"/],
    [{ ANTHROPIC_BASE_URL: "ftp://x" }, "ANTHROPIC_BASE_URL", /http/],
    [{ INSTANCE_ID: "a.b" }, "INSTANCE_ID", /letters, digits/],
    [{ NATS_TOKEN: undefined }, "NATS_TOKEN", /set NATS_USER and NATS_PASSWORD.*or NATS_TOKEN/],
    [{ NATS_USER: "api-1" }, "NATS_PASSWORD", /set both NATS_USER and NATS_PASSWORD/],
    [{ NATS_USER: "api-1", NATS_PASSWORD: "short" }, "NATS_PASSWORD", /5 characters/],
    [{ JWT_MAX_LIFETIME: "31d" }, "JWT_MAX_LIFETIME", /from 1m to 30d/],
    [{ JWT_PREVIOUS_SECRET: "x".repeat(40), JWT_PREVIOUS_SECRET_UNTIL: "soon" }, "JWT_PREVIOUS_SECRET_UNTIL", /"soon"/],
  ])("names the variable and the fix: %o", (override, variable, fix) => {
    const err = errorOf({ ...base, ...override });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).toMatch(fix);
  });

  it("reads the stack's NATS user, and a rotation's previous JWT key with its end", () => {
    const config = loadConfig({
      ...base,
      NATS_TOKEN: undefined,
      NATS_USER: "api-0123abcd",
      NATS_PASSWORD: "p".repeat(43),
      JWT_PREVIOUS_SECRET: "y".repeat(40),
      JWT_PREVIOUS_SECRET_UNTIL: "2026-12-08T12:00:00Z",
    });
    expect([config.natsUser, config.natsToken]).toEqual(["api-0123abcd", undefined]);
    expect(config.jwtPreviousSecret).toEqual({ secret: "y".repeat(40), until: Date.UTC(2026, 11, 8, 12) });
    expect(config.jwtMaxLifetimeMs).toBe(24 * 3600_000);
  });

  it("never echoes a secret's value", () => {
    const err = errorOf({ ...base, NATS_TOKEN: "tooshort!" });
    expect(err.message).not.toContain("tooshort!");
  });
});
