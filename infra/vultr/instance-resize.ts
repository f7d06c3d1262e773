// Vertical scaling: Vultr resizes an instance in place, to a larger plan of
// its upgrade list, and reports status "resizing" (and the old plan) until
// it is done. A resize can outlast the provider's wait; the state then still
// holds the old plan, and the next `pulumi up` must find the resize going on
// or done on the instance itself, not ask for it again.
import type { ApiInstance, ApiUpgrades } from "./api-types.js";
import type { ProviderSettings } from "./provider.js";
import { replaceAdvice } from "./instance-replace.js";
import { pollUntil, WaitTimeoutError } from "./wait.js";

/**
 * The plan to send in the PATCH that resizes instance `id` to `to`, or
 * undefined when the instance is already on it (a resize an earlier up gave
 * up waiting for, finished since). A resize still going on is waited for first.
 */
export async function planToRequest(s: ProviderSettings, id: string, to: string): Promise<string | undefined> {
  const client = s.client();
  const settled = await pollUntil(
    `The resize of instance ${id}`,
    async () => {
      const { instance } = await client.get<{ instance: ApiInstance }>(`/v2/instances/${id}`);
      return instance.status === "resizing"
        ? { done: false, state: `status resizing, plan ${instance.plan}` }
        : { done: true, value: instance };
    },
    { intervalMs: s.pollIntervalMs, timeoutMs: s.instanceReadyTimeoutMs },
  ).catch((error: unknown) => {
    throw error instanceof WaitTimeoutError ? stillResizing(id, to, error) : error;
  });
  if (settled.plan === to) return undefined;
  await assertUpgrade(s, id, settled.plan, to);
  return to;
}

/** Vultr resizes only to a plan in the instance's upgrade list; say so before trying. */
async function assertUpgrade(s: ProviderSettings, id: string, from: string, to: string): Promise<void> {
  const { upgrades } = await s.client().get<{ upgrades: ApiUpgrades }>(`/v2/instances/${id}/upgrades`);
  const plans = upgrades.plans ?? [];
  if (plans.includes(to)) return;
  throw new Error(
    `Plan "${from}" cannot change to "${to}" in place: Vultr only resizes an instance to a larger plan ` +
      `(${plans.length > 0 ? `this one can go to ${plans.join(", ")}` : "none is available for this one"}). ` +
      `A smaller plan needs a new server. ${replaceAdvice("pulumi up --replace <the instance's URN>")}`,
  );
}

/**
 * The wait ran out while Vultr was still resizing: nothing is lost, and the
 * state keeps the old plan, so the next up comes back here and finishes it.
 */
export function stillResizing(id: string, to: string, cause: WaitTimeoutError): Error {
  return new Error(
    `Vultr is still resizing instance ${id} to plan "${to}" (${cause.message}). Nothing is lost and nothing ` +
      "needs replacing: run pulumi up again later; it waits for the resize to finish and records the new plan.",
    { cause },
  );
}
