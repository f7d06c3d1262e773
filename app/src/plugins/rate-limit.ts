// Fixed-window limits per client IP (before auth, so floods of bad tokens are
// limited too) and per user. The IP is Fastify's `request.ip`, which reads
// X-Forwarded-For only from TRUSTED_PROXIES: a client cannot pick its own.
import type { FastifyReply } from "fastify";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Metrics } from "../observability/metrics.js";
import { HttpError } from "./errors.js";

export type LimitScope = "ip" | "user";

export function createRateLimiter(options: { requests: number; windowMs: number; metrics: Metrics }) {
  const duration = Math.ceil(options.windowMs / 1000);
  const limiters: Record<LimitScope, RateLimiterMemory> = {
    ip: new RateLimiterMemory({ keyPrefix: "ip", points: options.requests, duration }),
    user: new RateLimiterMemory({ keyPrefix: "user", points: options.requests, duration }),
  };

  const setHeaders = (reply: FastifyReply, res: RateLimiterRes) => {
    const remaining = Math.max(0, res.remainingPoints);
    const previous = Number(reply.getHeader("ratelimit-remaining") ?? Infinity);
    // With two limits in play, report the one closer to refusing.
    if (remaining > previous) return;
    reply.header("ratelimit-limit", options.requests);
    reply.header("ratelimit-remaining", remaining);
    reply.header("ratelimit-reset", Math.ceil(res.msBeforeNext / 1000));
    reply.header("ratelimit-policy", `${options.requests};w=${duration}`);
  };

  return async function limit(scope: LimitScope, key: string, reply: FastifyReply): Promise<void> {
    try {
      setHeaders(reply, await limiters[scope].consume(key));
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      setHeaders(reply, res);
      options.metrics.rateLimited.inc({ scope });
      const retryAfter = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      throw new HttpError(
        429,
        "rate_limited",
        `Too many requests from this ${scope === "ip" ? "address" : "user"}; retry in ${retryAfter} s.`,
        { "retry-after": String(retryAfter) },
      );
    }
  };
}
