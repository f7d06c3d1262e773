// Object Storage (govultr object_storage.go): a create names a cluster open
// to new subscriptions and a tier it offers; the subscription is pending for
// a few GETs, then has its S3 hostname and keys. Tiers are answered without
// `locations` (govultr marks it omitempty, so the real API may leave it out):
// which tiers a cluster offers is only told by the cluster's own tier list.
import { randomBytes, randomUUID } from "node:crypto";
import { INVALID_TIER } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { bare, found, HttpError, list, now, optionalText, type Route } from "./strict.js";
import type { FakeObjectStorage, FakeTier } from "./types.js";

export function objectStorageRoutes(ctx: FakeContext): Route[] {
  const { state, clusters, tiers } = ctx;
  const objectStorage = (id: string | undefined) =>
    found(state.objectStorages.get(id ?? ""), "Object storage subscription not found");
  return [
    [
      "GET",
      /^\/v2\/object-storage\/clusters$/,
      (_p, _b, q) =>
        list(
          "clusters",
          clusters.map((c) => ({ ...c })),
          q,
        ),
    ],
    ["GET", /^\/v2\/object-storage\/tiers$/, () => ({ status: 200, body: { tiers: tiers.map(publicTier) } })],
    [
      "GET",
      /^\/v2\/object-storage\/clusters\/(\d+)\/tiers$/,
      ([id]) => {
        const cluster = found(
          clusters.find((c) => c.id === Number(id)),
          "Object storage cluster not found",
        );
        return { status: 200, body: { tiers: tiers.filter((t) => t.clusterIds.includes(cluster.id)).map(publicTier) } };
      },
    ],
    [
      "GET",
      /^\/v2\/object-storage$/,
      (_p, _b, q) =>
        list(
          "object_storages",
          [...state.objectStorages.values()].map((s) => {
            const tier = tiers.find((t) => t.id === s.fake.tierId);
            // Only the list reports the tier, under its own id key (govultr ObjectStorageListTier).
            return { ...bare(s), tier: tier ? listTier(tier) : null };
          }),
          q,
        ),
    ],
    [
      "POST",
      /^\/v2\/object-storage$/,
      (_p, body) => {
        const cluster = clusters.find((c) => c.id === body.cluster_id);
        if (!cluster || cluster.deploy !== "yes") throw new HttpError(400, "Invalid cluster specified");
        const tier = tiers.find((t) => t.id === body.tier_id && t.clusterIds.includes(cluster.id));
        if (!tier) throw new HttpError(400, INVALID_TIER);
        const storage: FakeObjectStorage = {
          id: randomUUID(),
          date_created: now(),
          cluster_id: cluster.id,
          region: cluster.region,
          location: cluster.hostname.split(".")[0] ?? cluster.region,
          label: optionalText(body, "label"),
          status: "pending",
          s3_hostname: "",
          s3_access_key: "",
          s3_secret_key: "",
          fake: { pollsLeft: ctx.pendingPolls, tierId: tier.id },
        };
        state.objectStorages.set(storage.id, storage);
        return { status: 202, body: { object_storage: bare(storage) } };
      },
    ],
    [
      "GET",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id]) => {
        const storage = objectStorage(id);
        if (storage.status === "pending" && --storage.fake.pollsLeft <= 0) {
          storage.status = "active";
          storage.s3_hostname = clusters.find((c) => c.id === storage.cluster_id)?.hostname ?? "";
          storage.s3_access_key = randomBytes(10).toString("hex").toUpperCase();
          storage.s3_secret_key = randomBytes(20).toString("base64url");
        }
        return { status: 200, body: { object_storage: bare(storage) } };
      },
    ],
    [
      "PUT",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id], body) => {
        objectStorage(id).label = optionalText(body, "label");
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id]) => {
        state.objectStorages.delete(objectStorage(id).id);
        return { status: 204 };
      },
    ],
  ];
}

// govultr ObjectStorageTier, without the omitempty `locations`.
function publicTier({ id, sales_name, slug, price, is_default }: FakeTier) {
  return {
    id,
    sales_name,
    sales_desc: `${sales_name} object storage`,
    price,
    bw_gb_price: 0.01,
    disk_gb_price: 0.018,
    ratelimit_ops_secs: 400,
    ratelimit_ops_bytes: 800_000_000,
    is_default,
    slug,
  };
}

// govultr ObjectStorageListTier: the list names the tier's id OBJSTORETIERID.
function listTier(tier: FakeTier) {
  const { id, ...rest } = publicTier(tier);
  return { OBJSTORETIERID: id, ...rest };
}
