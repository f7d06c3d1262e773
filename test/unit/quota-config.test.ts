// The settings of per-address limits, per-user budgets and quotas, and the
// CORS allowlist: their defaults, and the values refused at start-up.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../app/src/config/env.js";
import { originAllowed } from "../../app/src/http/cors.js";

const base = {
  NATS_URL: "nats://nats:4222",
  NATS_TOKEN: "t".repeat(16),
  JWT_SECRET: "s".repeat(32),
  LLM_PROVIDER: "mock",
};

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe("defaults", () => {
  it("gives one address ten users' requests, so a shared NAT is not refused for one user", () => {
    expect(loadConfig(base)).toMatchObject({ rateLimitRequests: 60, rateLimitIpRequests: 600 });
    expect(loadConfig({ ...base, RATE_LIMIT_REQUESTS: "7" }).rateLimitIpRequests).toBe(70);
    expect(loadConfig({ ...base, RATE_LIMIT_IP_REQUESTS: "5" }).rateLimitIpRequests).toBe(5);
  });

  it("budgets tokens per user per hour, and stored bytes at 1% of the store", () => {
    expect(loadConfig(base)).toMatchObject({
      userInputTokensPerWindow: 1_000_000,
      userOutputTokensPerWindow: 200_000,
      userTokenWindowMs: 3_600_000,
      userMaxStoredBytes: Math.floor((10 * 1024 ** 3) / 100),
      corsOrigins: [],
    });
    expect(loadConfig({ ...base, CHAT_MAX_BYTES: "1GB" }).userMaxStoredBytes).toBe(Math.floor(1024 ** 3 / 100));
    // Never below the smallest quota it would accept from the operator.
    expect(loadConfig({ ...base, CHAT_MAX_BYTES: "1MB" }).userMaxStoredBytes).toBe(64 * 1024);
  });

  it("turns a budget or the quota off with 0", () => {
    expect(
      loadConfig({
        ...base,
        USER_INPUT_TOKENS_PER_WINDOW: "0",
        USER_OUTPUT_TOKENS_PER_WINDOW: "0",
        USER_MAX_STORED_BYTES: "0",
      }),
    ).toMatchObject({ userInputTokensPerWindow: 0, userOutputTokensPerWindow: 0, userMaxStoredBytes: 0 });
  });
});

describe("refused values", () => {
  it("refuses an output budget that could never hold one answer's limit, naming both settings", () => {
    const err = refusal({ LLM_MAX_TOKENS: "2048", USER_OUTPUT_TOKENS_PER_WINDOW: "2000" });
    expect(err.variable).toBe("USER_OUTPUT_TOKENS_PER_WINDOW");
    expect(err.message).toMatch(/2000, less than LLM_MAX_TOKENS \(2048\).*or use 0 for no budget/);
  });

  it("refuses an input budget smaller than one full context", () => {
    const err = refusal({ USER_INPUT_TOKENS_PER_WINDOW: "31999" });
    expect(err.message).toMatch(/less than CONTEXT_MAX_TOKENS \(32000\)/);
  });

  it("shows a budget's bad value (it is no secret)", () => {
    expect(refusal({ USER_INPUT_TOKENS_PER_WINDOW: "lots" }).message).toContain('"lots"');
  });

  it("refuses a quota too small to hold a conversation", () => {
    expect(refusal({ USER_MAX_STORED_BYTES: "10KB" }).variable).toBe("USER_MAX_STORED_BYTES");
    expect(loadConfig({ ...base, USER_MAX_STORED_BYTES: "64KB" }).userMaxStoredBytes).toBe(65536);
  });

  it("takes only whole origins: no wildcard, no path, no trailing slash", () => {
    expect(
      loadConfig({ ...base, CORS_ORIGINS: "https://chat.example.com, http://127.0.0.1:5173" }).corsOrigins,
    ).toEqual(["https://chat.example.com", "http://127.0.0.1:5173"]);
    for (const bad of [
      "*",
      "https://chat.example.com/",
      "https://chat.example.com/app",
      "chat.example.com",
      "ftp://x.example",
    ]) {
      const err = refusal({ CORS_ORIGINS: bad });
      expect(err.variable, bad).toBe("CORS_ORIGINS");
      expect(err.message).toMatch(/no "\*", no path/);
    }
  });
});

describe("originAllowed", () => {
  const allowed = ["https://chat.example.com"];
  it("matches whole origins only", () => {
    expect(originAllowed("https://chat.example.com", allowed)).toBe(true);
    for (const origin of [
      undefined,
      "null",
      "https://chat.example.com.evil.test",
      "http://chat.example.com",
      "https://evil.test",
    ])
      expect(originAllowed(origin, allowed), String(origin)).toBe(false);
  });
});
