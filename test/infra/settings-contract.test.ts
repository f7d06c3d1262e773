// One settings contract (infra/config/api-settings.ts): each API setting an
// operator may change has the same name in the stack config (Pulumi.yaml),
// the host's .env template, the compose file that hands it to the API, and
// the API's own reader, which checks it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ConfigError, loadConfig } from "../../app/src/config/env.js";
import { API_SETTINGS } from "../../infra/config/api-settings.js";

const ROOT = join(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

describe("the API settings contract", () => {
  it("declares each key in Pulumi.yaml, empty by default (the API's own default applies)", () => {
    const project = parseYaml(read("Pulumi.yaml")) as { config: Record<string, { type: string; default?: unknown }> };
    for (const setting of API_SETTINGS) {
      expect(project.config[setting.key], setting.key).toMatchObject({ type: "string", default: "" });
    }
  });

  it("has a line for each variable in the host's .env template", () => {
    const lines = read("templates/stack/stack.env").split("\n");
    for (const { env } of API_SETTINGS) expect(lines, env).toContain(`${env}={{${env}}}`);
  });

  it("hands each variable to the API containers, empty when unset", () => {
    const compose = parseYaml(read("templates/stack/docker-compose.prod.yml"), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    for (const service of ["api-1", "api-2"]) {
      const environment = compose.services[service]!.environment!;
      for (const { env } of API_SETTINGS) expect(environment[env], `${service} ${env}`).toBe(`\${${env}:-}`);
    }
  });

  it("names variables the API reads, which an empty value leaves at the API's default", () => {
    const base = {
      NATS_URL: "nats://nats:4222",
      NATS_TOKEN: "t".repeat(16),
      JWT_SECRET: "s".repeat(32),
      LLM_PROVIDER: "mock",
    };
    const defaults = loadConfig(base);
    const empty = loadConfig({ ...base, ...Object.fromEntries(API_SETTINGS.map((s) => [s.env, ""])) });
    expect(empty).toEqual({ ...defaults, instanceId: empty.instanceId });
    // What the reader looks up, seen by the reader's own run, not in its source.
    const looked = new Set<string | symbol>();
    loadConfig(
      new Proxy(base as Record<string, string | undefined>, {
        get: (env, name) => {
          looked.add(name);
          return Reflect.get(env, name);
        },
      }),
    );
    for (const { env } of API_SETTINGS) expect(looked.has(env), env).toBe(true);
  });

  it("lets the API's reader refuse a bad value, naming the variable", () => {
    const base = {
      NATS_URL: "nats://nats:4222",
      NATS_TOKEN: "t".repeat(16),
      JWT_SECRET: "s".repeat(32),
      LLM_PROVIDER: "mock",
    };
    const bad: Record<string, string> = {
      LOG_LEVEL: "loud",
      LLM_MAX_TOKENS: "many",
      HISTORY_MAX_MESSAGES: "-1",
      MAX_MESSAGE_CHARS: "x",
      RATE_LIMIT_REQUESTS: "lots",
      RATE_LIMIT_WINDOW: "soon",
      DISCONNECT_POLICY: "drop",
      UPSTREAM_IDLE_TIMEOUT: "later",
      GENERATION_LEASE: "1ms",
      SSE_KEEPALIVE: "never",
      REQUEST_TIMEOUT: "500ms",
      TRACING_ENABLED: "maybe",
      TRACING_ENDPOINT: "not a url",
      OPENAI_BASE_URL: "ftp://x",
      ANTHROPIC_BASE_URL: "nope",
      RATE_LIMIT_IP_REQUESTS: "0",
      USER_INPUT_TOKENS_PER_WINDOW: "many",
      // Below LLM_MAX_TOKENS (1024): no answer could ever be reserved.
      USER_OUTPUT_TOKENS_PER_WINDOW: "500",
      USER_TOKEN_WINDOW: "hourly",
      USER_MAX_STORED_BYTES: "1KB",
      CORS_ORIGINS: "*",
    };
    for (const [env, value] of Object.entries(bad)) {
      expect(() => loadConfig({ ...base, [env]: value }), env).toThrow(ConfigError);
      try {
        loadConfig({ ...base, [env]: value });
      } catch (error) {
        expect((error as ConfigError).variable).toBe(env);
      }
    }
  });
});
