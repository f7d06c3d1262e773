// Fixed-window limits per client (before auth, so floods of bad tokens are
// limited too) and per user, counted in NATS so that every instance enforces
// one limit and a restart forgets nothing. The client is Fastify's
// `request.ip`, which reads X-Forwarded-For only from TRUSTED_PROXIES (a
// client cannot pick its own), taken whole for IPv4 and by its /64 for IPv6.
// The client's limit is the larger by default: many users can share one
// address (an office, a carrier's NAT), and one of them spending their own
// limit must not refuse the others.
//
// While NATS cannot answer, each instance limits on its own from memory:
// clients get up to the limit per instance for that time, which is better
// than refusing everything or letting everything through.
import type { FastifyReply } from "fastify";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Metrics } from "../observability/metrics.js";
import type { NatsHandle } from "../store/nats-connection.js";
import { CounterContention, counterKey, rateLimitCounters } from "../store/rate-limit-counters.js";
import { clientKey } from "./client-key.js";
import { HttpError } from "./errors.js";
import { OutageGate, type Verdict } from "../store/rate-limit-window.js";

export type LimitScope = "ip" | "user";

/** How long after a failure requests keep to the local limiter before NATS is asked again. */
const RETRY_SHARED_MS = 2_000;

export function createRateLimiter(options: {
  /** Requests per window for each scope. */
  requests: Record<LimitScope, number>;
  windowMs: number;
  metrics: Metrics;
  nats: NatsHandle;
  /** Replicas of the counters' bucket, as for the chat's streams. */
  replicas: number;
  logger: Logger;
}) {
  const { requests, windowMs, nats, logger } = options;
  const duration = Math.ceil(windowMs / 1000);
  const shared = rateLimitCounters(nats.nc, { windowMs, replicas: options.replicas });
  const local: Record<LimitScope, RateLimiterMemory> = {
    ip: new RateLimiterMemory({ keyPrefix: "ip", points: requests.ip, duration }),
    user: new RateLimiterMemory({ keyPrefix: "user", points: requests.user, duration }),
  };
  const gate = new OutageGate(RETRY_SHARED_MS);
  nats.onStateChange((up) => {
    if (up) gate.retrySoon();
  });
  // Apply the bucket's settings at start-up, before the instance listens
  // (the app waits for `opened`), as the quota buckets are; a failure here
  // is met again, and reported, by the first request.
  const opened = shared.open().then(
    () => undefined,
    () => undefined,
  );

  const failed = (err: unknown) => {
    if (gate.failed(Date.now())) {
      logger.warn({ err }, "NATS cannot answer for rate limits: each instance limits from its own memory until it can");
    }
  };

  const check = async (scope: LimitScope, key: string): Promise<Verdict> => {
    if (!nats.isConnected()) {
      failed(new Error("NATS is disconnected"));
    } else if (gate.shouldTry(Date.now())) {
      try {
        const verdict = await shared.apply(counterKey(scope, key), { requests: requests[scope], windowMs });
        if (gate.succeeded()) logger.info("rate limits are counted in NATS again");
        return verdict;
      } catch (err) {
        if (!(err instanceof CounterContention)) failed(err);
      }
    }
    return consumeLocally(local[scope], key);
  };

  const setHeaders = (reply: FastifyReply, scope: LimitScope, verdict: Verdict) => {
    const previous = Number(reply.getHeader("ratelimit-remaining") ?? Infinity);
    // With two limits in play, report the one closer to refusing.
    if (verdict.remaining > previous) return;
    reply.header("ratelimit-limit", requests[scope]);
    reply.header("ratelimit-remaining", verdict.remaining);
    reply.header("ratelimit-reset", Math.ceil(verdict.msBeforeNext / 1000));
    reply.header("ratelimit-policy", `${requests[scope]};w=${duration}`);
  };

  const limit = async (scope: LimitScope, key: string, reply: FastifyReply): Promise<void> => {
    const verdict = await check(scope, scope === "ip" ? clientKey(key) : key);
    setHeaders(reply, scope, verdict);
    if (verdict.allowed) return;
    options.metrics.rateLimited.inc({ scope });
    const retryAfter = Math.max(1, Math.ceil(verdict.msBeforeNext / 1000));
    throw new HttpError(
      429,
      "rate_limited",
      `Too many requests from this ${scope === "ip" ? "address" : "user"}; retry in ${retryAfter} s.`,
      { "retry-after": String(retryAfter) },
    );
  };
  return Object.assign(limit, { opened });
}

async function consumeLocally(limiter: RateLimiterMemory, key: string): Promise<Verdict> {
  let res: RateLimiterRes;
  let allowed = true;
  try {
    res = await limiter.consume(key);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    res = err;
    allowed = false;
  }
  return { allowed, remaining: Math.max(0, res.remainingPoints), msBeforeNext: res.msBeforeNext };
}
