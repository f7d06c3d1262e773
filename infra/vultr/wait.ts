// Waiting for Vultr to finish something it does after answering (an instance
// booting, a storage subscription getting keys): poll, with a time limit that
// names what was awaited and the last state seen.
import { setTimeout as sleep } from "node:timers/promises";

export type Probe<T> = { done: true; value: T } | { done: false; state: string };

export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly lastState: string,
    timeoutMs: number,
  ) {
    super(`${what} did not finish within ${formatDuration(timeoutMs)} (last seen: ${lastState})`);
    this.name = "WaitTimeoutError";
  }
}

export async function pollUntil<T>(
  what: string,
  probe: () => Promise<Probe<T>>,
  { intervalMs, timeoutMs }: { intervalMs: number; timeoutMs: number },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result.done) return result.value;
    if (Date.now() + intervalMs > deadline) throw new WaitTimeoutError(what, result.state, timeoutMs);
    await sleep(intervalMs);
  }
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

export interface Backoff {
  /** The first wait; doubled after each try. */
  firstDelayMs: number;
  /** No single wait is longer. */
  maxDelayMs: number;
  /** Give up when the next wait would end after this long in all. */
  timeoutMs: number;
}

/** The wait before try `attempt + 1` (attempt counts from 1): doubling, capped. */
export function backoffDelay(
  attempt: number,
  { firstDelayMs, maxDelayMs }: Pick<Backoff, "firstDelayMs" | "maxDelayMs">,
): number {
  return Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(attempt - 1, 30));
}

/**
 * Runs `call` until it succeeds, again (after a growing wait) while its
 * error passes `worthWaiting`, and throws `giveUp(lastError)` when the time
 * is up. For conditions Vultr clears by itself: a lock, a detach.
 */
export async function retryWhile<T>(
  call: () => Promise<T>,
  worthWaiting: (error: unknown) => boolean,
  backoff: Backoff,
  giveUp: (lastError: unknown) => Error | Promise<Error>,
): Promise<T> {
  const deadline = Date.now() + backoff.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!worthWaiting(error)) throw error;
      const delay = backoffDelay(attempt, backoff);
      if (Date.now() + delay > deadline) throw await giveUp(error);
      await sleep(delay);
    }
  }
}
