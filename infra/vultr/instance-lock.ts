// Vultr locks an instance for a while after it is created and while it is
// resized, and then answers HTTP 500 "... Server is currently locked" to a
// DELETE, a PATCH and the other changes (ansible-collection-vultr issue 113).
// The client's own retries of a 5xx last seconds; a lock lasts minutes. So
// these calls are tried again with growing waits until the lock is gone.
import { classifyVultrError } from "./errors.js";
import type { ProviderSettings } from "./provider.js";
import { formatDuration, retryWhile } from "./wait.js";

/** `call` (a change to instance `id`, described by `doing`: "delete", "update"), waiting out a lock. */
export function untilUnlocked<T>(s: ProviderSettings, id: string, doing: string, call: () => Promise<T>): Promise<T> {
  return retryWhile(
    call,
    (error) => classifyVultrError(error) === "locked",
    { firstDelayMs: s.pollIntervalMs, maxDelayMs: s.maxBackoffMs, timeoutMs: s.instanceLockTimeoutMs },
    (error) => {
      const reason = error instanceof Error ? error.message : String(error);
      return new Error(
        `Instance ${id} stayed locked for ${formatDuration(s.instanceLockTimeoutMs)}, so it could not ${doing} it: ` +
          "Vultr locks an instance while it is created or resized. Look at the instance in the Vultr console " +
          "(a resize of a large disk takes longer; raise VULTR_WAIT_TIMEOUT_MS to wait longer), then run pulumi " +
          `again. (${reason})`,
        { cause: error },
      );
    },
  );
}
