// The Vpc provider against the fake Vultr API, and an instance in a VPC:
// create, read, update and delete; what replaces and what updates; bad
// subnets refused before any call; an instance getting its private address
// from the subnet and moving to another VPC in place (a half-done move
// finished by the next up, the VPC checked before any change, no private
// address left once it leaves); a VPC still in use
// refused by Vultr and waited for after its instance's DELETE; one VPC per
// create after a 5xx.
import { afterEach, describe, expect, it } from "vitest";
import { VultrApiError, VultrClient } from "../../infra/vultr/client.js";
import { privateAddressProblem, vpcStepAlreadyDone } from "../../infra/vultr/instance.js";
import { VPC_DIFF_RULES, type VpcInputs, type VpcState } from "../../infra/vultr/vpc.js";
import { ipv4InNetwork } from "../../infra/config/cidr.js";
import { vpcSubnetProblem } from "../../infra/vultr/vpc-subnet.js";
import { INVALID_VPC, VPC_IN_USE, type FakeVultr } from "../harness/fake-vultr.js";
import { bare } from "../harness/fake-vultr/strict.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

const NODES: VpcInputs = { region: "ewr", description: "chat nodes", v4Subnet: "10.20.0.0", v4SubnetMask: 24 };

describe("a VPC's subnet", () => {
  it("must be a private network address with a prefix the nodes fit in", () => {
    expect(vpcSubnetProblem("10.20.0.0", 24)).toBeUndefined();
    expect(vpcSubnetProblem("192.168.8.0", 22)).toBeUndefined();
    expect(vpcSubnetProblem("10.20.0.5", 24)).toContain("host bits set; the network is 10.20.0.0/24");
    expect(vpcSubnetProblem("198.51.100.0", 24)).toBe(
      "198.51.100.0/24 is not a private network: use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
    );
    expect(vpcSubnetProblem("172.15.0.0", 16)).toContain("is not a private network");
    expect(vpcSubnetProblem("10.20.0", 24)).toBe('"10.20.0" is not an IPv4 network address (e.g. "10.20.0.0")');
  });

  it("holds an address when its network bits match", () => {
    expect(ipv4InNetwork("10.20.0.3", "10.20.0.0", 24)).toBe(true);
    expect(ipv4InNetwork("10.20.1.3", "10.20.0.0", 24)).toBe(false);
    expect(ipv4InNetwork("10.20.1.3", "10.20.0.0", 22)).toBe(true);
    expect(ipv4InNetwork("203.0.113.9", "0.0.0.0", 0)).toBe(true);
    expect(ipv4InNetwork("10.20.0.3", "10.20.0.3", 32)).toBe(true);
    expect(ipv4InNetwork("10.20.0.4", "10.20.0.3", 32)).toBe(false);
    expect(privateAddressProblem("", { v4_subnet: "10.20.0.0", v4_subnet_mask: 24 })).toBe(
      "no private address in VPC 10.20.0.0/24 yet",
    );
    expect(privateAddressProblem("10.30.0.3", { v4_subnet: "10.20.0.0", v4_subnet_mask: 24 })).toBe(
      "private address 10.30.0.3, not yet one of VPC 10.20.0.0/24",
    );
  });
});

describe("Vpc", () => {
  it("posts Vultr's fields, reads them back, changes the description in place and deletes", async () => {
    const { fake, providers } = await startProviders();
    const { id, outs } = await providers.Vpc.create(NODES);
    expect(fake.requestsTo("POST", "/v2/vpcs")[0]!.body).toEqual({
      region: "ewr",
      description: "chat nodes",
      v4_subnet: "10.20.0.0",
      v4_subnet_mask: 24,
    });
    expect(outs).toMatchObject(NODES);
    expect(outs.dateCreated).not.toBe("");

    fake.state.vpcs.get(id)!.description = "changed in the console";
    const read = await providers.Vpc.read!(id, outs);
    expect(read.props.description).toBe("changed in the console");

    const { outs: updated } = await providers.Vpc.update!(id, read.props, NODES);
    expect(fake.requestsTo("PUT", `/v2/vpcs/${id}`).map((r) => [r.status, r.body])).toEqual([
      [204, { description: "chat nodes" }],
    ]);
    expect(updated).toEqual(outs);

    await providers.Vpc.delete(id, updated);
    expect(fake.state.vpcs.size).toBe(0);
    // Gone is Vultr's 400 "Invalid VPC ID": read reports it deleted, a second delete is done already.
    expect((await providers.Vpc.read!(id, updated)).id).toBe("");
    await providers.Vpc.delete(id, updated);
    expect(fake.requestsTo("GET", `/v2/vpcs/${id}`).at(-1)!.response).toEqual({ error: INVALID_VPC, status: 400 });
  });

  it("diffs without calling the API: region and subnet replace, the description updates", async () => {
    const { fake, providers } = await startProviders();
    const olds: VpcState = { ...NODES, dateCreated: "2026-12-07T00:00:00+00:00" };
    expect(await providers.Vpc.diff("v", olds, NODES)).toEqual({ changes: false });
    expect(await providers.Vpc.diff("v", olds, { ...NODES, description: "x" })).toEqual({ changes: true });
    const replacing: Partial<VpcInputs> = { region: "ams", v4Subnet: "10.21.0.0", v4SubnetMask: 16 };
    for (const replaced of VPC_DIFF_RULES.replace) {
      const diff = await providers.Vpc.diff("v", olds, { ...NODES, [replaced]: replacing[replaced] });
      expect(diff).toEqual({ changes: true, replaces: [replaced] });
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("refuses bad inputs in check, naming each one", async () => {
    const { fake, providers } = await startProviders();
    const check = (inputs: Partial<VpcInputs>) => providers.Vpc.check!({}, { ...NODES, ...inputs });
    expect((await check({})).failures).toBeUndefined();
    expect((await check({ v4Subnet: "10.20.0.9" })).failures).toEqual([
      {
        property: "v4Subnet",
        reason: '"10.20.0.9/24" has host bits set; the network is 10.20.0.0/24 (for this one address use 10.20.0.9/32)',
      },
    ]);
    expect((await check({ v4SubnetMask: 24.5, region: "" })).failures).toEqual([
      { property: "region", reason: "must not be empty" },
      { property: "v4SubnetMask", reason: "must be a whole number from 8 to 29" },
    ]);
    // A mask outside the VPC range is the mask's problem, not the subnet's.
    for (const v4SubnetMask of [30, 7]) {
      expect((await check({ v4SubnetMask })).failures).toEqual([
        { property: "v4SubnetMask", reason: "must be a whole number from 8 to 29" },
      ]);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("is created once when Vultr answers 504 after making it", async () => {
    const { fake, providers } = await startProviders({}, { perPage: 1 });
    await providers.Vpc.create({ ...NODES, v4Subnet: "10.21.0.0" }); // another VPC, listed on its own page
    fake.inject({ status: 504, method: "POST", path: "/v2/vpcs", afterHandling: true });
    const { id } = await providers.Vpc.create(NODES);
    expect(fake.requestsTo("POST", "/v2/vpcs")).toHaveLength(2);
    expect(fake.state.vpcs.size).toBe(2);
    expect(fake.state.vpcs.get(id)!.v4_subnet).toBe("10.20.0.0");
    // The lookalikes were looked for page by page.
    expect(fake.requestsTo("GET", "/v2/vpcs").some((r) => r.query.cursor !== undefined)).toBe(true);
  });
});

describe("an instance in a VPC", () => {
  it("is created attached to it and gets a private address from its subnet", async () => {
    const { fake, providers } = await startProviders();
    const vpc = await providers.Vpc.create(NODES);
    const { id, outs } = await providers.Instance.create(instanceInputs({ vpcId: vpc.id }));
    expect(fake.requestsTo("POST", "/v2/instances")[0]!.body).toMatchObject({ attach_vpc: [vpc.id] });
    expect(outs.internalIp).toBe("10.20.0.3");
    expect(outs.vpcId).toBe(vpc.id);
    const second = await providers.Instance.create(instanceInputs({ vpcId: vpc.id, hostname: "node-2" }));
    expect(second.outs.internalIp).toBe("10.20.0.4");
    expect((await providers.Instance.read!(id, outs)).props.internalIp).toBe("10.20.0.3");
  });

  it("without a VPC sends no VPC field and has no private address", async () => {
    const { fake, providers } = await startProviders();
    const { outs } = await providers.Instance.create(instanceInputs());
    expect(fake.requestsTo("POST", "/v2/instances")[0]!.body).not.toHaveProperty("attach_vpc");
    expect(outs.internalIp).toBe("");
    expect(outs).not.toHaveProperty("vpcId");
  });

  it("is refused before anything is created when the VPC is missing or in another region", async () => {
    const { fake, providers } = await startProviders();
    const elsewhere = await providers.Vpc.create({ ...NODES, region: "ams" });
    expect(await messageOf(providers.Instance.create(instanceInputs({ vpcId: "missing" })))).toBe(
      'vpcId "missing" is not a VPC in this Vultr account',
    );
    expect(await messageOf(providers.Instance.create(instanceInputs({ vpcId: elsewhere.id })))).toBe(
      `vpcId "${elsewhere.id}" (10.20.0.0/24) is in region "ams", the instance in "ewr"; ` +
        "an instance can only join a VPC of its own region",
    );
    expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(0);
  });

  it("moves to another VPC in place: detached, attached, with an address of the new subnet", async () => {
    const { fake, providers } = await startProviders();
    const first = await providers.Vpc.create(NODES);
    const second = await providers.Vpc.create({ ...NODES, v4Subnet: "10.30.0.0" });
    const inputs = instanceInputs({ vpcId: first.id });
    const { id, outs } = await providers.Instance.create(inputs);
    const moved = { ...inputs, vpcId: second.id };
    expect(await providers.Instance.diff(id, outs, moved)).toEqual({ changes: true });

    const { outs: after } = await providers.Instance.update!(id, outs, moved);
    expect(fake.requestsTo("POST", `/v2/instances/${id}/vpcs/detach`)[0]!.body).toEqual({ vpc_id: first.id });
    expect(fake.requestsTo("POST", `/v2/instances/${id}/vpcs/attach`)[0]!.body).toEqual({ vpc_id: second.id });
    expect(after.internalIp).toBe("10.30.0.3");
    expect(fake.state.instances.size).toBe(1);
  });

  it("finishes a move whose attach failed after the detach went through, on the next up", async () => {
    const { fake, providers } = await startProviders();
    const first = await providers.Vpc.create(NODES);
    const second = await providers.Vpc.create({ ...NODES, v4Subnet: "10.30.0.0" });
    const inputs = instanceInputs({ vpcId: first.id });
    const { id, outs } = await providers.Instance.create(inputs);
    const moved = { ...inputs, vpcId: second.id };
    const attach = `/v2/instances/${id}/vpcs/attach`;
    fake.inject({ status: 400, method: "POST", path: attach, body: { error: "Unable to attach VPC", status: 400 } });
    expect(await messageOf(providers.Instance.update!(id, outs, moved))).toContain("Unable to attach VPC");
    expect(fake.state.instances.get(id)!.fake.vpcs.size).toBe(0);

    // Pulumi's state still names the first VPC, so the detach is asked for again and answered "not attached".
    const { outs: after } = await providers.Instance.update!(id, outs, moved);
    const detaches = fake.requestsTo("POST", `/v2/instances/${id}/vpcs/detach`).map((r) => r.status);
    expect(detaches).toEqual([204, 400]);
    expect([...fake.state.instances.get(id)!.fake.vpcs.keys()]).toEqual([second.id]);
    expect(after).toMatchObject({ vpcId: second.id, internalIp: "10.30.0.3" });
  });

  it("checks the new VPC before anything is changed: a missing one sends no resize", async () => {
    const { fake, providers } = await startProviders();
    const vpc = await providers.Vpc.create(NODES);
    const inputs = instanceInputs({ vpcId: vpc.id });
    const { id, outs } = await providers.Instance.create(inputs);
    const wrong = { ...inputs, vpcId: "missing", plan: "vhp-4c-8gb-amd" };
    expect(await messageOf(providers.Instance.update!(id, outs, wrong))).toBe(
      'vpcId "missing" is not a VPC in this Vultr account',
    );
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(0);
    expect(fake.requestsTo("POST", /\/vpcs\/(attach|detach)$/)).toHaveLength(0);
  });

  it("has no private address once it leaves its VPC, even while Vultr still shows the old one", async () => {
    const { fake, providers } = await startProviders();
    const vpc = await providers.Vpc.create(NODES);
    const inputs = instanceInputs({ vpcId: vpc.id });
    const { id, outs } = await providers.Instance.create(inputs);
    // Vultr's next answer still carries the detached VPC's address.
    const stale = (await providers.Instance.read!(id, outs)).props;
    expect(stale.internalIp).toBe("10.20.0.3");
    const shown = bare(fake.state.instances.get(id)!);
    fake.inject({ status: 200, method: "GET", path: `/v2/instances/${id}`, body: { instance: shown } });

    const { outs: after } = await providers.Instance.update!(id, outs, { ...inputs, vpcId: "" });
    expect(fake.requestsTo("POST", `/v2/instances/${id}/vpcs/detach`)[0]!.body).toEqual({ vpc_id: vpc.id });
    expect(after.internalIp).toBe("");
    expect(after).not.toHaveProperty("vpcId");
  });

  it("counts only Vultr's own 400 saying so as a VPC step already done", () => {
    const refused = (message: string, status = 400) =>
      new VultrApiError("POST", "/v2/instances/i/vpcs/detach", status, message, 1);
    expect(vpcStepAlreadyDone("detach", refused("VPC is not attached to this instance"))).toBe(true);
    expect(vpcStepAlreadyDone("attach", refused("VPC is already attached to this instance"))).toBe(true);
    expect(vpcStepAlreadyDone("attach", refused("VPC is not attached to this instance"))).toBe(false);
    expect(vpcStepAlreadyDone("detach", refused("VPC is already attached to this instance"))).toBe(false);
    expect(vpcStepAlreadyDone("detach", refused("VPC is not attached to this instance", 500))).toBe(false);
    expect(vpcStepAlreadyDone("detach", new Error("VPC is not attached to this instance"))).toBe(false);
  });
});

describe("deleting a VPC still in use", () => {
  const REFUSALS = 4;

  /** A clock that stands still until the fake has refused `count` VPC deletes, then jumps past any release. */
  function clockAfterRefusals(of: { fake?: FakeVultr }): () => number {
    return () => ((of.fake?.requestsTo("DELETE", /^\/v2\/vpcs\//).length ?? 0) > REFUSALS ? 1_000_000 : 0);
  }

  it("is refused by Vultr while an instance is attached", async () => {
    const { fake, providers } = await startProviders();
    const vpc = await providers.Vpc.create(NODES);
    await providers.Instance.create(instanceInputs({ vpcId: vpc.id }));
    const client = new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 0 });
    expect(await client.delete(`/v2/vpcs/${vpc.id}`).catch((e: unknown) => e)).toMatchObject({
      status: 400,
      vultrMessage: VPC_IN_USE,
    });
    expect(fake.state.vpcs.size).toBe(1);
  });

  it("waits, after the instance's DELETE, until Vultr lets go of it", async () => {
    const of: { fake?: FakeVultr } = {};
    const env = await startProviders({ vpcReleaseMs: 100, clock: clockAfterRefusals(of) });
    of.fake = env.fake;
    const vpc = await env.providers.Vpc.create(NODES);
    const server = await env.providers.Instance.create(instanceInputs({ vpcId: vpc.id }));
    await env.providers.Instance.delete(server.id, server.outs);
    await env.providers.Vpc.delete(vpc.id, vpc.outs);

    const statuses = env.fake.requestsTo("DELETE", `/v2/vpcs/${vpc.id}`).map((r) => r.status);
    expect(statuses).toEqual([...Array<number>(REFUSALS).fill(400), 204]);
    expect(env.fake.state.vpcs.size).toBe(0);
  });

  it("stops waiting at the bound while the instance still runs, saying what to do", async () => {
    const { fake, providers } = await startProviders({}, { vpcReleaseTimeoutMs: 60 });
    const vpc = await providers.Vpc.create(NODES);
    await providers.Instance.create(instanceInputs({ vpcId: vpc.id }));
    const message = await messageOf(providers.Vpc.delete(vpc.id, vpc.outs));
    expect(message).toContain(`VPC ${vpc.id} still has an instance or load balancer attached after 60 ms`);
    expect(message).toContain("delete it or detach it from the VPC");
    expect(message).toContain(VPC_IN_USE);
    expect(fake.requestsTo("DELETE", `/v2/vpcs/${vpc.id}`).length).toBeLessThan(12);
    expect(fake.state.vpcs.size).toBe(1);
  });
});
