// JSON logs (pino). Credentials never reach a log line: request headers are
// not logged (observability/request-log.ts), and should any be, those that
// carry credentials are censored, as is any field named like a secret.
import type { LoggerOptions } from "pino";

export const REDACTED_PATHS = [
  // Headers logged as `headers`, or inside another object (`req`, `res`, `upstream`).
  ...["headers", "*.headers"].flatMap((at) => [
    `${at}.authorization`,
    `${at}.cookie`,
    `${at}["x-api-key"]`,
    `${at}["set-cookie"]`,
  ]),
  "*.apiKey",
  "*.token",
  "*.password",
  "*.secret",
  "*.jwtSecret",
  "*.natsToken",
  "*.natsPassword",
  "*.jwtPreviousSecret",
  "*.anthropicApiKey",
  "*.openaiApiKey",
];

export function loggerOptions(level: string, instanceId: string): LoggerOptions {
  return {
    level,
    base: { instance: instanceId },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      // A request logged whole (Fastify does so on some errors) is only where
      // it went and from where (through TRUSTED_PROXIES): never its headers,
      // nor its query, which a client may fill with anything.
      req: (request: { method: string; url: string; ip: string }) => ({
        method: request.method,
        url: request.url.split("?")[0],
        ip: request.ip,
      }),
    },
  };
}
