// What every Vultr kind shares: its settings (the client, the waits), the
// partial-create error, and the idempotent read and delete helpers.
import { VultrClient } from "./client.js";
import { isGone } from "./errors.js";
export { isGone } from "./errors.js";
export type { AnyProvider, CheckFailure, CheckResult, DiffResult, Provider } from "../providers/provider.js";

/** What the providers need from their surroundings; tests shorten the waits. */
export interface ProviderSettings {
  client: () => VultrClient;
  /** Between two status polls. @default 5000 (VULTR_POLL_INTERVAL_MS) */
  pollIntervalMs: number;
  /** For an instance to be active with its addresses. @default 15 min (VULTR_WAIT_TIMEOUT_MS) */
  instanceReadyTimeoutMs: number;
  /** For an Object Storage subscription to be active. @default 15 min (VULTR_WAIT_TIMEOUT_MS) */
  objectStorageReadyTimeoutMs: number;
  /** For a load balancer to be active with its addresses. @default 15 min (VULTR_WAIT_TIMEOUT_MS) */
  loadBalancerReadyTimeoutMs: number;
  /**
   * How long a VPC's delete keeps retrying while Vultr still counts an
   * instance or load balancer as attached: the stack deletes those first, and
   * Vultr lets go of them after their DELETE answered.
   * @default 5 min
   */
  vpcReleaseTimeoutMs: number;
  /**
   * How long an instance create, and a reserved IP's delete, keep retrying
   * while Vultr still reports the reserved IP attached to the instance just
   * deleted: the detach finishes after the DELETE has answered
   * (terraform-provider-vultr issues 77 and 348).
   * @default 5 min
   */
  reservedIpReleaseTimeoutMs: number;
  /**
   * How long a DELETE or PATCH of an instance keeps waiting while Vultr
   * answers "Server is currently locked" (after a create or a resize).
   * @default 15 min (VULTR_WAIT_TIMEOUT_MS)
   */
  instanceLockTimeoutMs: number;
  /** Longest single wait between two tries while waiting out a lock or a detach. @default 30000 */
  maxBackoffMs: number;
  /** Page size of list calls. @default 100 */
  perPage: number;
}

/** Read when an operation runs, not at import, so a bad setting fails the operation that needs it. */
export type SettingsSource = () => ProviderSettings;

const MINUTE = 60_000;

/** Settings from the environment; the client is only built (and the key only needed) when an API call is made. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const waitMs = positiveInt(env, "VULTR_WAIT_TIMEOUT_MS", 15 * MINUTE);
  return {
    client: () => VultrClient.fromEnv(env),
    pollIntervalMs: positiveInt(env, "VULTR_POLL_INTERVAL_MS", 5000),
    instanceReadyTimeoutMs: waitMs,
    objectStorageReadyTimeoutMs: waitMs,
    loadBalancerReadyTimeoutMs: waitMs,
    vpcReleaseTimeoutMs: 5 * MINUTE,
    reservedIpReleaseTimeoutMs: 5 * MINUTE,
    instanceLockTimeoutMs: waitMs,
    maxBackoffMs: 30_000,
    perPage: 100,
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    throw new Error(`${name} must be a positive number of milliseconds, got "${raw}". Unset it to use ${fallback}.`);
  }
  return Number(raw);
}

/**
 * A create that made the resource but could not finish (it never became
 * ready). Pulumi's dynamic provider host turns an error carrying `id` and
 * `properties` into "created, initialization failed", so the resource is
 * recorded in state instead of leaking, and the next `pulumi up` calls update
 * on it, which waits again.
 */
export class PartialCreateError extends Error {
  readonly reasons: string[];

  constructor(
    message: string,
    readonly id: string,
    readonly properties: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = "PartialCreateError";
    this.reasons = [message];
  }
}

/** Deletes are idempotent: something already gone (deleted by hand, or with its parent) is not an error. */
export async function deleteIgnoringMissing(settings: SettingsSource, path: string): Promise<void> {
  try {
    await settings().client().delete(path);
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/** A GET for `read`: undefined when the object is gone, so read can report it deleted. */
export async function getUnlessGone<T>(settings: SettingsSource, path: string): Promise<T | undefined> {
  try {
    return await settings().client().get<T>(path);
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}
