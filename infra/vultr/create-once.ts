// Creating a billed object (an instance, a reserved IP, an Object Storage
// subscription) exactly once. A 502/504 or a lost connection after Vultr took
// the POST leaves the object made but unknown to us; sending the POST again
// would make (and bill) a second one. So the client never resends a create
// that may have been carried out, and here, before sending it again, the
// objects that look like it (same label, region, ...) and were not there
// before the first POST are looked up: one is adopted, several are
// reported, none (after a few looks) means it is safe to send again.
import { setTimeout as sleep } from "node:timers/promises";
import { mayHaveCreated } from "./errors.js";
import type { ProviderSettings } from "./provider.js";
import { backoffDelay } from "./wait.js";

export interface CreateOnce<T> {
  /** Names the object in messages, e.g. `Instance "chat-platform" in ewr`. */
  what: string;
  /** The POST itself. */
  post: () => Promise<T>;
  /** The kind's list: its path and the key of the array in the answer. */
  list: [path: string, key: string];
  /** Whether a listed object looks like the one posted (label, region, ...). */
  alike: (item: T) => boolean;
}

/** A create is sent at most this many times in all. */
export const CREATE_ATTEMPTS = 3;
/** After an answer that leaves the create unknown, look this many times (with growing waits) before sending it again. */
export const LOOKUPS_PER_ATTEMPT = 3;

export type AfterUnknownCreate = { adopt: string } | { lookAgain: true } | { postAgain: true } | { fail: string };

/**
 * What to do after a create whose outcome is unknown, given the ids of
 * lookalikes that were not there before the first POST, the look just made
 * (from 1) and the POST it followed (from 1).
 */
export function afterUnknownCreate(newIds: readonly string[], lookup: number, attempt: number): AfterUnknownCreate {
  if (newIds.length === 1) return { adopt: newIds[0] ?? "" };
  if (newIds.length > 1) {
    return {
      fail:
        `Vultr now holds ${newIds.length} of them (${newIds.join(", ")}), none there before this create. ` +
        "Delete them in the Vultr console (they are billed), then run pulumi up again.",
    };
  }
  if (lookup < LOOKUPS_PER_ATTEMPT) return { lookAgain: true };
  if (attempt < CREATE_ATTEMPTS) return { postAgain: true };
  return {
    fail:
      `It was sent ${CREATE_ATTEMPTS} times and never appeared, so nothing was created. ` +
      "Vultr may be failing (https://status.vultr.com): run pulumi up again later.",
  };
}

export async function createOnce<T extends { id: string }>(s: ProviderSettings, spec: CreateOnce<T>): Promise<T> {
  const client = s.client();
  const lookalikes = async () =>
    (await client.listAll<T>(spec.list[0], spec.list[1], { perPage: s.perPage })).filter(spec.alike);
  const before = new Set((await lookalikes()).map((item) => item.id));
  const wait = { firstDelayMs: s.pollIntervalMs, maxDelayMs: s.maxBackoffMs };
  for (let attempt = 1; ; attempt++) {
    let failure: unknown;
    try {
      return await spec.post();
    } catch (error) {
      if (!mayHaveCreated(error)) throw error;
      failure = error;
    }
    for (let lookup = 1; ; lookup++) {
      await sleep(backoffDelay(lookup, wait));
      const fresh = (await lookalikes()).filter((item) => !before.has(item.id));
      const ids = fresh.map((item) => item.id);
      const next = afterUnknownCreate(ids, lookup, attempt);
      if ("adopt" in next) return fresh[0] as T;
      if ("postAgain" in next) break;
      if ("fail" in next) {
        const reason = failure instanceof Error ? failure.message : String(failure);
        throw new Error(`Creating ${spec.what} got no clear answer (${reason}). ${next.fail}`, { cause: failure });
      }
    }
  }
}
