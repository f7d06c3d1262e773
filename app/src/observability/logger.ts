// JSON logs (pino). Credentials never reach a log line: request headers that
// carry them and any field named like a secret are censored.
import type { LoggerOptions } from "pino";

export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  "*.apiKey",
  "*.token",
  "*.password",
  "*.secret",
  "*.jwtSecret",
  "*.natsToken",
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
      // Requests with their headers (credentials censored above) and the
      // client IP as resolved through TRUSTED_PROXIES.
      req: (request: { method: string; url: string; ip: string; headers: Record<string, unknown> }) => ({
        method: request.method,
        url: request.url,
        ip: request.ip,
        headers: request.headers,
      }),
    },
  };
}
