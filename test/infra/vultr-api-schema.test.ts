// The fake Vultr API against Vultr's published API (test/harness/fake-vultr/
// api-schema.ts, from Vultr's OpenAPI document and govultr): our client
// drives the fake through every provider operation and every other route the
// fake serves; each recorded call (route, query, request body, status,
// answer) must fit the published operation. And the fake refuses what the
// API does not know, so a misspelt field fails here rather than on Vultr.
import { afterEach, describe, expect, it } from "vitest";
import type { VultrClient } from "../../infra/vultr/client.js";
import { exchangeProblems } from "../harness/fake-vultr/api-check.js";
import { API_OPERATIONS, findOperation } from "../harness/fake-vultr/api-schema.js";
import { fakeRoutes, type FakeVultr } from "../harness/fake-vultr.js";
import { createContext } from "../harness/fake-vultr/context.js";
import { closeFakeVultrs, instanceInputs, lbInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

type Providers = Awaited<ReturnType<typeof startProviders>>["providers"];

/** Create, read, update and delete of every kind, as `pulumi up` and `destroy` would run them. */
async function everyProviderOperation(providers: Providers): Promise<void> {
  const group = await providers.FirewallGroup.create({ description: "chat" });
  await providers.FirewallGroup.read!(group.id, group.outs);
  await providers.FirewallGroup.update!(group.id, group.outs, { description: "chat platform" });
  const ruleInputs = {
    firewallGroupId: group.id,
    ipType: "v4",
    protocol: "tcp",
    port: "443",
    subnet: "0.0.0.0",
    subnetSize: 0,
    notes: "https",
  };
  const rule = await providers.FirewallRule.create(ruleInputs);
  await providers.FirewallRule.read!(rule.id, rule.outs);

  const key = await providers.SshKey.create({ name: "ops", sshKey: "ssh-ed25519 AAAAC3Nza ops@example.com" });
  await providers.SshKey.read!(key.id, key.outs);
  await providers.SshKey.update!(key.id, key.outs, { name: "ops-2", sshKey: "ssh-ed25519 AAAAC3Nzb ops@example.com" });

  const reserved = await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "chat" });
  await providers.ReservedIp.update!(reserved.id, reserved.outs, { ...reserved.outs, label: "chat-ipv4" });

  const vpcInputs = { region: "ewr", description: "nodes", v4Subnet: "10.20.0.0", v4SubnetMask: 24 };
  const vpc = await providers.Vpc.create(vpcInputs);
  await providers.Vpc.read!(vpc.id, vpc.outs);
  await providers.Vpc.update!(vpc.id, vpc.outs, { ...vpcInputs, description: "chat nodes" });
  const otherVpc = await providers.Vpc.create({ ...vpcInputs, v4Subnet: "10.30.0.0" });

  const inputs = instanceInputs({
    firewallGroupId: group.id,
    sshKeyIds: [key.id],
    reservedIpId: reserved.id,
    vpcId: vpc.id,
  });
  const server = await providers.Instance.create(inputs);
  await providers.Instance.read!(server.id, server.outs);
  const resized = { ...inputs, plan: "vhp-4c-8gb-amd", label: "chat-2", vpcId: otherVpc.id };
  await providers.Instance.update!(server.id, server.outs, resized);
  await providers.ReservedIp.read!(reserved.id, reserved.outs);

  const lbCreate = lbInputs({
    forwardingRules: [{ frontendProtocol: "tcp", frontendPort: 443, backendProtocol: "tcp", backendPort: 443 }],
    firewallRules: [{ port: 443, source: "0.0.0.0/0", ipType: "v4" }],
    instanceIds: [server.id],
    vpcId: otherVpc.id,
  });
  const lb = await providers.LoadBalancer.create(lbCreate);
  await providers.LoadBalancer.read!(lb.id, lb.outs);
  await providers.LoadBalancer.update!(lb.id, lb.outs, { ...lbCreate, timeout: 1800, vpcId: "", instanceIds: [] });

  const zone = await providers.DnsDomain.create({ domain: "example.com" });
  await providers.DnsDomain.read!(zone.id, zone.outs);
  const recordInputs = { domain: "example.com", name: "api", type: "A", data: "198.51.100.10", ttl: 300 };
  const record = await providers.DnsRecord.create(recordInputs);
  await providers.DnsRecord.read!(record.id, record.outs);
  await providers.DnsRecord.update!(record.id, record.outs, { ...recordInputs, ttl: 600 });

  const storage = await providers.ObjectStorage.create({ region: "ewr", label: "backups" });
  await providers.ObjectStorage.update!(storage.id, storage.outs, { ...storage.outs, label: "backups-2" });
  await providers.ObjectStorage.read!(storage.id, storage.outs);

  // destroy, in dependency order; then reads find each gone (404s).
  await providers.ObjectStorage.delete(storage.id, storage.outs);
  await providers.DnsRecord.delete(record.id, record.outs);
  await providers.DnsDomain.delete(zone.id, zone.outs);
  await providers.LoadBalancer.delete(lb.id, lb.outs);
  await providers.LoadBalancer.read!(lb.id, lb.outs);
  await providers.Instance.delete(server.id, server.outs);
  await providers.Vpc.delete(vpc.id, vpc.outs);
  await providers.Vpc.delete(otherVpc.id, otherVpc.outs);
  await providers.Vpc.read!(vpc.id, vpc.outs);
  await providers.ReservedIp.delete(reserved.id, reserved.outs);
  await providers.SshKey.delete(key.id, key.outs);
  await providers.FirewallRule.delete(rule.id, rule.outs);
  await providers.FirewallGroup.delete(group.id, group.outs);
  await providers.Instance.read!(server.id, server.outs);
  await providers.DnsDomain.read!(zone.id, zone.outs);
  await providers.ObjectStorage.read!(storage.id, storage.outs);

  // Refusals the providers turn into their own messages.
  await providers.DnsDomain.create({ domain: "example.org" });
  await messageOf(providers.DnsDomain.create({ domain: "example.org" }));
  await messageOf(providers.DnsRecord.create({ ...recordInputs, domain: "missing.example" }));
}

/** The routes the fake serves that no provider calls: lists, tiers, attach and detach. */
async function everyOtherRoute(client: VultrClient): Promise<void> {
  const server = await client.post<{ instance: { id: string } }>("/v2/instances", {
    region: "ewr",
    plan: "vc2-1c-1gb",
    os_id: 2284,
  });
  const reserved = await client.post<{ reserved_ip: { id: string } }>("/v2/reserved-ips", {
    region: "ewr",
    ip_type: "v4",
  });
  await client.request("POST", `/v2/reserved-ips/${reserved.reserved_ip.id}/attach`, {
    body: { instance_id: server.instance.id },
  });
  await client.request("POST", `/v2/reserved-ips/${reserved.reserved_ip.id}/detach`, {});
  await client.post("/v2/object-storage", { cluster_id: 2, tier_id: 2, label: "listed" });
  const group = await client.post<{ firewall_group: { id: string } }>("/v2/firewalls", {});
  await client.post("/v2/domains", { domain: "example.net" });
  await client.post("/v2/load-balancers", { region: "ewr", label: "listed" });
  for (const [path, key] of [
    ["/v2/instances", "instances"],
    ["/v2/firewalls", "firewall_groups"],
    [`/v2/firewalls/${group.firewall_group.id}/rules`, "firewall_rules"],
    ["/v2/ssh-keys", "ssh_keys"],
    ["/v2/reserved-ips", "reserved_ips"],
    ["/v2/domains", "domains"],
    ["/v2/domains/example.net/records", "records"],
    ["/v2/object-storage", "object_storages"],
    ["/v2/vpcs", "vpcs"],
    ["/v2/load-balancers", "load_balancers"],
  ] as const) {
    await client.listAll(path, key, { perPage: 1 });
  }
  await client.get("/v2/object-storage/tiers");
}

function problemsIn(fake: FakeVultr): string[] {
  return fake.requests.flatMap((r) => exchangeProblems(r));
}

describe("the fake Vultr API against Vultr's published API", () => {
  it("answers every provider operation and every other route it serves as the published operations do", async () => {
    const { fake, client, providers } = await startProviders({ pendingPolls: 1 });
    await everyProviderOperation(providers);
    await everyOtherRoute(client);

    expect(problemsIn(fake)).toEqual([]);
    // Nothing untested: every published operation in the schema was called, and answered both ways somewhere.
    const called = new Set(fake.requests.map((r) => findOperation(r.method, r.path)));
    expect(API_OPERATIONS.filter((op) => !called.has(op)).map((op) => `${op.method} ${op.path}`)).toEqual([]);
    expect(fake.requests.filter((r) => r.status >= 400).map((r) => r.status)).toEqual(
      expect.arrayContaining([400, 404]),
    );
  });

  it("serves no route the published API does not have", () => {
    // A template's parameters filled with "1" fit both the fake's ([^/]+) and (\d+).
    const samples = API_OPERATIONS.map((op) => ({ method: op.method, path: op.path.replace(/\{[^}]+\}/g, "1") }));
    const unpublished = fakeRoutes(createContext({}))
      .filter(([method, pattern]) => !samples.some((s) => s.method === method && pattern.test(s.path)))
      .map(([method, pattern]) => `${method} ${pattern.source}`);
    expect(unpublished).toEqual([]);
  });

  it("finds what does not fit: a wrong status, a missing or unknown answer field, a field of the wrong type", () => {
    const created = {
      domain: { domain: "example.com", date_created: "2026-12-07T00:00:00+00:00", dns_sec: "disabled" },
    };
    const post = { method: "POST", path: "/v2/domains", query: {}, body: { domain: "example.com" } };
    expect(exchangeProblems({ ...post, status: 200, response: created })).toEqual([]);
    expect(exchangeProblems({ ...post, status: 201, response: created })).toEqual([
      "POST /v2/domains (HTTP 201): HTTP 201 on success, where the API answers 200",
    ]);
    const withoutDnsSec = { domain: "example.com", date_created: "2026-12-07T00:00:00+00:00" };
    expect(exchangeProblems({ ...post, status: 200, response: { domain: { ...withoutDnsSec, extra: 1 } } })).toEqual([
      "POST /v2/domains (HTTP 200): response/domain must have required property 'dns_sec'",
      "POST /v2/domains (HTTP 200): response/domain must NOT have additional properties (extra)",
    ]);
    expect(
      exchangeProblems({ ...post, body: { domain: 7 }, status: 400, response: { error: "x", status: 400 } }),
    ).toEqual(["POST /v2/domains (HTTP 400): request body/domain must be string"]);
    expect(exchangeProblems({ ...post, status: 409, response: { error: "x", status: 409 } })).toEqual([
      "POST /v2/domains (HTTP 409): HTTP 409 is not a status this operation answers",
    ]);
    expect(exchangeProblems({ method: "GET", path: "/v2/plans", query: {}, body: undefined, status: 200 })).toEqual([
      "GET /v2/plans is not an operation of the API",
    ]);
  });

  it("refuses a request field the operation does not take, naming it", async () => {
    const { fake, client } = await startProviders();
    const message = await messageOf(
      client.post("/v2/instances", { region: "ewr", plan: "vc2-1c-1gb", os_id: 2284, sshkey_ids: ["k"] }),
    );
    expect(message).toBe(
      'Vultr API POST /v2/instances failed with HTTP 400: Invalid request: "sshkey_ids" is not a field of POST /v2/instances',
    );
    expect(fake.state.instances.size).toBe(0);
  });
});
