// Vultr Object Storage subscriptions (govultr object_storage.go). Since the
// tiers arrived (2025), creating one needs a tier offered at the chosen
// cluster, or Vultr answers "Invalid tier specified for this location"
// (terraform-provider-vultr 2.24.0 made tier_id required). The stack names a
// region; the cluster and tier are found when the subscription is created.
import type { ApiObjectStorage, ApiObjectStorageCluster, ApiObjectStorageTier } from "./api-types.js";
import { InputChecker } from "./check.js";
import { createOnce } from "./create-once.js";
import { diffInputs } from "../providers/diff.js";
import {
  deleteIgnoringMissing,
  getUnlessGone,
  PartialCreateError,
  type Provider,
  type ProviderSettings,
  type SettingsSource,
} from "./provider.js";
import { pollUntil } from "./wait.js";

export interface ObjectStorageInputs {
  /** Region id such as "ewr"; the subscription goes to a cluster there. */
  region: string;
  label: string;
  /** A tier's slug or sales name; without it Vultr's default tier there (else the cheapest). */
  tierName?: string;
}

export interface ObjectStorageState extends ObjectStorageInputs {
  clusterId: number;
  tierId: number;
  /** The tier chosen, by slug and by name, so a later tierName naming the same tier changes nothing. */
  tierSlug: string;
  tierSalesName: string;
  s3Hostname: string;
  s3AccessKey: string;
  s3SecretKey: string;
}

export function objectStorageProvider(settings: SettingsSource): Provider<ObjectStorageInputs, ObjectStorageState> {
  return {
    async check(_olds, news) {
      return new InputChecker({ ...news })
        .text("region")
        .text("label", { allowEmpty: true })
        .text("tierName", { optional: true })
        .result(news);
    },

    // The region (its cluster) and the tier are fixed for a subscription: a
    // change replaces it, and with it every bucket in it. Dropping tierName, or
    // naming the tier it already has, keeps it.
    async diff(_id, olds, news) {
      const { changes, replaces = [] } = diffInputs(olds, news, { replace: ["region"], update: ["label", "tierName"] });
      if (news.tierName && !namesTier(news.tierName, olds)) replaces.push("tierName");
      return replaces.length > 0 ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      const s = settings();
      const { cluster, tier } = await chooseClusterAndTier(s, inputs);
      const body = { cluster_id: cluster.id, tier_id: tier.id, label: inputs.label };
      const created = await createOnce(s, {
        what: `Object Storage "${inputs.label}" in ${inputs.region}`,
        post: () =>
          s
            .client()
            .post<{ object_storage: ApiObjectStorage }>("/v2/object-storage", body)
            .then((answer) => answer.object_storage),
        list: ["/v2/object-storage", "object_storages"],
        alike: (o) => o.label === inputs.label && o.cluster_id === cluster.id,
      });
      try {
        const active = await waitUntilActive(s, created.id);
        return { id: created.id, outs: stateOf(inputs, active, tier) };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new PartialCreateError(
          `Object Storage ${created.id} was created but is not active: ${reason}. The next pulumi up waits for it again.`,
          created.id,
          { ...stateOf(inputs, created, tier) },
          error,
        );
      }
    },

    async read(id, props) {
      const found = await getUnlessGone<{ object_storage: ApiObjectStorage }>(settings, `/v2/object-storage/${id}`);
      if (!found) return { id: "", props };
      // GET does not report the tier (terraform-provider-vultr reads it from the list); it cannot change, so it stays.
      return { id, props: stateOf(props, found.object_storage, tierOf(props)) };
    },

    async update(id, olds, news) {
      const s = settings();
      if (news.label !== olds.label) await s.client().put(`/v2/object-storage/${id}`, { label: news.label });
      // Also finishes a subscription whose create timed out (Pulumi calls update on it).
      const active = await waitUntilActive(s, id);
      return { outs: stateOf(news, active, tierOf(olds)) };
    },

    // Deletes the subscription with every bucket and object in it.
    async delete(id) {
      await deleteIgnoringMissing(settings, `/v2/object-storage/${id}`);
    },
  };
}

interface Placement {
  cluster: ApiObjectStorageCluster;
  tier: ApiObjectStorageTier;
}

/** A cluster in the region that takes new subscriptions, and a tier offered there. */
export async function chooseClusterAndTier(s: ProviderSettings, inputs: ObjectStorageInputs): Promise<Placement> {
  const client = s.client();
  const clusters = await client.listAll<ApiObjectStorageCluster>("/v2/object-storage/clusters", "clusters", {
    perPage: s.perPage,
  });
  const open = clusters.filter((c) => c.deploy === "yes");
  const here = open.filter((c) => c.region === inputs.region);
  if (here.length === 0) {
    const regions = [...new Set(open.map((c) => c.region))].sort().join(", ");
    throw new Error(
      `Vultr Object Storage takes no new subscriptions in region "${inputs.region}". ` +
        `Regions that do: ${regions || "none"}. Choose one, e.g. pulumi config set backupsRegion ${open[0]?.region ?? "ewr"}`,
    );
  }
  // Asked per cluster: the account-wide GET /v2/object-storage/tiers may omit
  // `locations` (govultr: omitempty), so it cannot tell where a tier is offered.
  const offered: ApiObjectStorageTier[] = [];
  for (const cluster of here) {
    const { tiers } = await client.get<{ tiers: ApiObjectStorageTier[] }>(
      `/v2/object-storage/clusters/${cluster.id}/tiers`,
    );
    offered.push(...tiers);
    const tier = inputs.tierName
      ? tiers.find((t) => namesTier(inputs.tierName ?? "", { tierSlug: t.slug, tierSalesName: t.sales_name }))
      : defaultTier(tiers);
    if (tier) return { cluster, tier };
  }

  const available = [...new Map(offered.map((t) => [t.id, t])).values()];
  const listed = available.map((t) => `"${t.sales_name}" (${t.slug}, ${t.price} a month)`).join(", ");
  if (inputs.tierName) {
    throw new Error(
      `No Object Storage tier named "${inputs.tierName}" is offered in region "${inputs.region}". ` +
        `Tiers offered there: ${listed || "none"}. Set tierName to one of their names or slugs.`,
    );
  }
  throw new Error(
    `Vultr offers no Object Storage tier at the clusters of region "${inputs.region}" ` +
      `(${here.map((c) => c.hostname).join(", ")}). Choose another backupsRegion.`,
  );
}

/** Vultr's default tier where it offers one, else the cheapest: backups need capacity, not speed. */
function defaultTier(tiers: ApiObjectStorageTier[]): ApiObjectStorageTier | undefined {
  return tiers.find((t) => t.is_default === "yes") ?? [...tiers].sort((a, b) => a.price - b.price)[0];
}

function namesTier(name: string, tier: { tierSlug: string; tierSalesName: string }): boolean {
  const wanted = name.trim().toLowerCase();
  // State written before these fields existed has neither: then nothing matches and a named tier replaces.
  return wanted === (tier.tierSlug ?? "").toLowerCase() || wanted === (tier.tierSalesName ?? "").toLowerCase();
}

async function waitUntilActive(s: ProviderSettings, id: string): Promise<ApiObjectStorage> {
  const client = s.client();
  return pollUntil(
    `Object Storage ${id}`,
    async () => {
      const { object_storage } = await client.get<{ object_storage: ApiObjectStorage }>(`/v2/object-storage/${id}`);
      return object_storage.status === "active"
        ? { done: true, value: object_storage }
        : { done: false, state: `status ${object_storage.status}` };
    },
    { intervalMs: s.pollIntervalMs, timeoutMs: s.objectStorageReadyTimeoutMs },
  );
}

interface TierRef {
  id: number;
  slug: string;
  sales_name: string;
}

function tierOf(state: ObjectStorageState): TierRef {
  return { id: state.tierId, slug: state.tierSlug, sales_name: state.tierSalesName };
}

function stateOf(inputs: ObjectStorageInputs, api: ApiObjectStorage, tier: TierRef): ObjectStorageState {
  return {
    region: inputs.region,
    label: api.label,
    ...(inputs.tierName ? { tierName: inputs.tierName } : {}),
    clusterId: api.cluster_id,
    tierId: tier.id,
    tierSlug: tier.slug,
    tierSalesName: tier.sales_name,
    s3Hostname: api.s3_hostname,
    s3AccessKey: api.s3_access_key,
    s3SecretKey: api.s3_secret_key,
  };
}
