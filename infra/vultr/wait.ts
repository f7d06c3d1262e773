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
