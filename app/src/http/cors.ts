// Cross-origin access for browser clients (@fastify/cors), for the origins
// in CORS_ORIGINS only. An origin is compared whole, never reflected: a page
// from anywhere else gets no CORS header and its browser refuses the answer.
// Tokens travel in Authorization, never in cookies, so credentials mode is
// neither needed nor allowed. Registered before the /v1 routes: the headers
// are set when a request arrives, so refusals (401, 429) reach the page too,
// and a preflight is answered before authentication, which it cannot pass
// (browsers send no Authorization with it).
import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

/** What a browser may send, and read, across origins. */
export const CORS_POLICY = {
  methods: ["GET", "POST", "DELETE"],
  allowedHeaders: ["Authorization", "Content-Type", "Last-Event-ID"],
  exposedHeaders: [
    "Retry-After",
    "X-Message-Id",
    "Content-Location",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
  ],
  /** Seconds a browser may reuse a preflight's answer. */
  maxAge: 600,
} as const;

/** Whether a request's Origin header is one of the allowed origins (exact match). */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  return origin !== undefined && allowed.includes(origin);
}

export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  // No origins: no CORS answer at all, as before this setting existed.
  if (origins.length === 0) return;
  void app.register(cors, {
    // false: no CORS headers, and a preflight falls through to a 404.
    origin: (origin, callback) => callback(null, originAllowed(origin, origins) ? origin! : false),
    credentials: false,
    methods: [...CORS_POLICY.methods],
    allowedHeaders: [...CORS_POLICY.allowedHeaders],
    exposedHeaders: [...CORS_POLICY.exposedHeaders],
    maxAge: CORS_POLICY.maxAge,
    strictPreflight: true,
  });
}
