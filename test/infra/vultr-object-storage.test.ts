// The ObjectStorage provider against the fake Vultr API: cluster and tier
// choice, waiting until active, updates and replaces.
import { afterEach, describe, expect, it } from "vitest";
import { INVALID_TIER } from "../harness/fake-vultr.js";
import { closeFakeVultrs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("ObjectStorage", () => {
  it("is refused by Vultr without a tier, as the real API does", async () => {
    const { client } = await startProviders();
    const message = await messageOf(client.post("/v2/object-storage", { cluster_id: 2, label: "backups" }));
    expect(message).toBe(`Vultr API POST /v2/object-storage failed with HTTP 400: ${INVALID_TIER}`);
  });

  it("finds the region's open cluster and its default tier, then waits until active", async () => {
    const { fake, providers } = await startProviders();
    const { id, outs } = await providers.ObjectStorage.create({ region: "ewr", label: "backups" });
    expect(fake.requestsTo("POST", "/v2/object-storage")[0]).toMatchObject({
      status: 202,
      body: { cluster_id: 2, tier_id: 2, label: "backups" },
    });
    expect(outs).toMatchObject({
      region: "ewr",
      label: "backups",
      clusterId: 2,
      tierId: 2,
      tierSlug: "tier_010k_5000m",
      s3Hostname: "ewr1.vultrobjects.com",
    });
    expect(outs.s3AccessKey).not.toBe("");
    expect(outs.s3SecretKey).not.toBe("");
    expect((await providers.ObjectStorage.read!(id, outs)).props).toEqual(outs);
  });

  it("asks each open cluster of the region for its tiers: the account's tier list may omit where a tier is offered", async () => {
    const { fake, client, providers } = await startProviders();
    const { tiers } = await client.get<{ tiers: Record<string, unknown>[] }>("/v2/object-storage/tiers");
    expect(tiers.filter((t) => "locations" in t)).toEqual([]);

    const { outs } = await providers.ObjectStorage.create({ region: "ewr", label: "backups", tierName: "Performance" });
    expect(outs).toMatchObject({ clusterId: 2, tierId: 4, tierSlug: "tier_050k_20000m" });
    // Cluster 1 (ewr0) takes no new subscriptions, so only ewr1 is asked.
    expect(fake.requestsTo("GET", /^\/v2\/object-storage\/clusters\/\d+\/tiers$/).map((r) => r.path)).toEqual([
      "/v2/object-storage/clusters/2/tiers",
    ]);
    expect(await messageOf(client.get("/v2/object-storage/clusters/99/tiers"))).toContain("failed with HTTP 404");
  });

  it("prefers Vultr's default tier, else the cheapest offered at the cluster", async () => {
    const cluster = { id: 9, region: "ewr", hostname: "ewr9.vultrobjects.com", deploy: "yes" as const };
    const tier = (id: number, price: number, isDefault: "yes" | "no") => ({
      id,
      sales_name: `T${id}`,
      slug: `t${id}`,
      price,
      is_default: isDefault,
      clusterIds: [9],
    });
    const withDefault = await startProviders({ clusters: [cluster], tiers: [tier(1, 5, "no"), tier(2, 18, "yes")] });
    expect((await withDefault.providers.ObjectStorage.create({ region: "ewr", label: "b" })).outs.tierId).toBe(2);
    const noDefault = await startProviders({ clusters: [cluster], tiers: [tier(3, 40, "no"), tier(4, 12, "no")] });
    expect((await noDefault.providers.ObjectStorage.create({ region: "ewr", label: "b" })).outs.tierId).toBe(4);
  });

  it("takes a named tier, and lists the tiers offered when the name matches none", async () => {
    const { fake, providers } = await startProviders();
    const { outs } = await providers.ObjectStorage.create({ region: "ewr", label: "b", tierName: "premium" });
    expect(outs.tierId).toBe(3);
    const message = await messageOf(
      providers.ObjectStorage.create({ region: "ams", label: "b", tierName: "Performance" }),
    );
    expect(message).toContain('No Object Storage tier named "Performance" is offered in region "ams"');
    expect(message).toContain('"Standard" (tier_010k_5000m');
    expect(message).toContain('"Premium"');
    expect(fake.requestsTo("POST", "/v2/object-storage")).toHaveLength(1);
  });

  it("names the regions that take subscriptions when the region has none", async () => {
    const { providers } = await startProviders();
    const message = await messageOf(providers.ObjectStorage.create({ region: "fra", label: "b" }));
    expect(message).toContain('takes no new subscriptions in region "fra". Regions that do: ams, ewr, sjc');
  });

  it("updates the label (PUT), replaces on region or another tier, keeps it when the tier is only named", async () => {
    const { fake, providers } = await startProviders();
    const p = providers.ObjectStorage;
    const inputs = { region: "ewr", label: "backups" };
    const { id, outs } = await p.create(inputs);
    expect(await p.diff(id, outs, { ...inputs, tierName: "Standard" })).toEqual({ changes: true });
    expect(await p.diff(id, outs, { ...inputs, tierName: "tier_010k_5000m" })).toEqual({ changes: true });
    expect(await p.diff(id, outs, { ...inputs, tierName: "Premium" })).toEqual({
      changes: true,
      replaces: ["tierName"],
    });
    expect(await p.diff(id, outs, { ...inputs, region: "ams" })).toEqual({ changes: true, replaces: ["region"] });

    const { outs: renamed } = await p.update!(id, outs, { ...inputs, label: "renamed" });
    expect(fake.requestsTo("PUT", `/v2/object-storage/${id}`)[0]!.body).toEqual({ label: "renamed" });
    expect(renamed).toMatchObject({ label: "renamed", s3AccessKey: outs.s3AccessKey, tierId: 2 });
    await p.delete(id, renamed);
    expect((await p.read!(id, renamed)).id).toBe("");
  });
});
