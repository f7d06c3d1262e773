// Rate-limit counters in the KV bucket `rate-limits`: one entry per (scope,
// client) holding its current window, shared by every instance through
// shared-counters.ts, so all of them enforce one limit together and a restart
// forgets nothing.
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeWindow, encodeWindow, nextStep, type Verdict, type WindowCount } from "./rate-limit-window.js";
import { counterBucketSettings, SharedCounters, type CounterPolicy } from "./shared-counters.js";
import type { ManagedSettings } from "./storage-config.js";

export { counterKey, CounterContention } from "./shared-counters.js";

export const RATE_LIMIT_BUCKET = "rate-limits";
/**
 * An entry must outlive its window, measured by NATS's clock from its last
 * write while the window was started by an instance's clock: the margin
 * covers the two clocks disagreeing.
 */
const TTL_MARGIN_MS = 5_000;

export interface CounterLimits {
  requests: number;
  windowMs: number;
}

/** How long an entry outlives its last write. */
function bucketTtlMs(windowMs: number): number {
  return windowMs + TTL_MARGIN_MS;
}

/** The bucket's stream settings, applied to an existing bucket on change. */
export function rateLimitBucketSettings(options: { windowMs: number; replicas: number }): ManagedSettings {
  return counterBucketSettings({ ttlMs: bucketTtlMs(options.windowMs), replicas: options.replicas });
}

/**
 * `hits` requests one after the other against a window: each one's verdict,
 * and the window to write (null when none of them changes it).
 */
export function countHits(
  window: WindowCount | null,
  hits: number,
  limits: CounterLimits,
  now = Date.now(),
): { verdicts: Verdict[]; next: WindowCount | null } {
  const verdicts: Verdict[] = [];
  let next: WindowCount | null = null;
  for (let i = 0; i < hits; i++) {
    const step = nextStep(next ?? window, now, limits);
    verdicts.push(step.verdict);
    if (step.write) next = step.next;
  }
  return { verdicts, next };
}

/** One request is one change; it carries its scope's limits (an address's and a user's differ). */
const windowPolicy: CounterPolicy<WindowCount, CounterLimits, Verdict> = {
  apply(current, changes, now) {
    // All changes of one entry are of one scope, so they share their limits.
    const { verdicts, next } = countHits(current, changes.length, changes[0]!, now);
    return { results: verdicts, next };
  },
  encode: encodeWindow,
  decode: decodeWindow,
  refusesFromMemory: true,
};

export function rateLimitCounters(
  nc: NatsConnection,
  options: { windowMs: number; replicas: number },
): SharedCounters<WindowCount, CounterLimits, Verdict> {
  return new SharedCounters(
    nc,
    { name: RATE_LIMIT_BUCKET, ttlMs: bucketTtlMs(options.windowMs), replicas: options.replicas },
    windowPolicy,
  );
}
