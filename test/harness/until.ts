// Waiting for a state without fixed sleeps: read it again and again until it
// holds, within a bound, and fail naming what was awaited and what was last
// seen, so a test that times out says why.
import { setTimeout as sleep } from "node:timers/promises";

/** How long `until` polls unless told otherwise: below vitest's 30 s test timeout, so ours reports first. */
export const UNTIL_DEFAULT_MS = 20_000;

/**
 * Reads until `done` holds for the value read, and returns that value. A
 * read that throws counts as not yet (the state may still be coming up);
 * after `timeoutMs` it fails with `what` and the last value or error seen.
 */
export async function until<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean = Boolean,
  timeoutMs = UNTIL_DEFAULT_MS,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await read();
      if (done(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms; last seen: ${describe(last)}`);
    await sleep(intervalMs);
  }
}

function describe(last: { value: unknown } | { error: unknown } | undefined): string {
  if (last === undefined) return "nothing";
  if ("error" in last) return `error ${last.error instanceof Error ? last.error.message : String(last.error)}`;
  return JSON.stringify(last.value) ?? String(last.value);
}
