// The rate limiter's decisions, apart from where counters are kept
// (rate-limit-counters.ts) and how requests are answered (http/rate-limit.ts):
// what one more request does to a client's window, its stored form, and when
// to stop asking NATS.
import { readWholeNumbers } from "./counter-entry.js";

/** A client's fixed window: it starts with the client's first request in it. */
export interface WindowCount {
  /** Epoch milliseconds of the window's first request. */
  start: number;
  count: number;
}

export interface Verdict {
  allowed: boolean;
  remaining: number;
  msBeforeNext: number;
}

export type Step =
  | { write: true; next: WindowCount; verdict: Verdict }
  /** Refused without writing: a refusal does not move the window or the count. */
  | { write: false; verdict: Verdict };

/**
 * What one more request does. `current` is null when the client has no
 * counter (never seen, or expired from the bucket).
 */
export function nextStep(
  current: WindowCount | null,
  now: number,
  limits: { requests: number; windowMs: number },
): Step {
  const { requests, windowMs } = limits;
  // A start in the future beyond one window can only be a broken clock or a
  // hand-edited entry; starting over is safer than a window that never ends.
  const live = current !== null && now < current.start + windowMs && current.start - now < windowMs;
  if (live && current.count >= requests) {
    return { write: false, verdict: verdict(false, 0, current.start + windowMs - now, windowMs) };
  }
  const next = live ? { start: current.start, count: current.count + 1 } : { start: now, count: 1 };
  return {
    write: true,
    next,
    verdict: verdict(true, requests - next.count, next.start + windowMs - now, windowMs),
  };
}

function verdict(allowed: boolean, remaining: number, msBeforeNext: number, windowMs: number): Verdict {
  return { allowed, remaining: Math.max(0, remaining), msBeforeNext: Math.min(windowMs, Math.max(0, msBeforeNext)) };
}

/** The stored form: small, and readable with `nats kv get`. */
export function encodeWindow(window: WindowCount): string {
  return JSON.stringify({ start: window.start, count: window.count });
}

/** Null for anything that is not a counter this code wrote: it then starts over. */
export function decodeWindow(text: string): WindowCount | null {
  return readWholeNumbers(text, { start: "integer", count: "count" });
}

/**
 * Whether to ask NATS. After a failure requests use the local limiter for
 * `retryMs`, then one request probes again: an outage must not make every
 * request wait for a timeout, and must be reported once, not per request.
 */
export class OutageGate {
  private down = false;
  private retryAt = 0;

  constructor(private readonly retryMs: number) {}

  /** True when this request should ask NATS. */
  shouldTry(now: number): boolean {
    if (!this.down) return true;
    if (now < this.retryAt) return false;
    // Only this request probes; the others keep to the local limiter.
    this.retryAt = now + this.retryMs;
    return true;
  }

  /** Records a failure; true when it starts an outage (report it). */
  failed(now: number): boolean {
    const started = !this.down;
    this.down = true;
    this.retryAt = now + this.retryMs;
    return started;
  }

  /** Records an answer; true when it ends an outage (report it). */
  succeeded(): boolean {
    const ended = this.down;
    this.down = false;
    return ended;
  }

  /** The connection is back: probe with the next request instead of waiting. */
  retrySoon(): void {
    this.retryAt = 0;
  }
}
