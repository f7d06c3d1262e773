// Where the server is found: the ReservedIp, DnsDomain and DnsRecord
// providers against the fake Vultr API.
import { afterEach, describe, expect, it } from "vitest";
import { closeFakeVultrs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("ReservedIp", () => {
  it("reports the address as subnet, updates the label, replaces on region or type", async () => {
    const { fake, providers } = await startProviders({ reservedIpv4: "203.0.113.50" });
    const p = providers.ReservedIp;
    const inputs = { region: "ewr", ipType: "v4", label: "chat-platform-ipv4" };
    const { id, outs } = await p.create(inputs);
    expect(outs).toEqual({ ...inputs, subnet: "203.0.113.50", subnetSize: 32, instanceId: "" });

    expect(await p.diff(id, outs, { ...inputs, label: "x" })).toEqual({ changes: true });
    expect(await p.diff(id, outs, { ...inputs, region: "ams", ipType: "v6" })).toEqual({
      changes: true,
      replaces: ["region", "ipType"],
    });
    const { outs: updated } = await p.update!(id, outs, { ...inputs, label: "x" });
    expect(updated.label).toBe("x");
    expect(fake.requestsTo("PATCH", `/v2/reserved-ips/${id}`)[0]!.body).toEqual({ label: "x" });
    expect((await p.read!(id, updated)).props).toEqual(updated);
    await p.delete(id, updated);
    expect((await p.read!(id, updated)).id).toBe("");
  });
});

describe("DNS", () => {
  it("creates an empty zone (no ip sent), reads it and deletes it", async () => {
    const { fake, providers } = await startProviders();
    const p = providers.DnsDomain;
    const { id, outs } = await p.create({ domain: "example.com" });
    expect(id).toBe("example.com");
    expect(fake.requestsTo("POST", "/v2/domains")[0]!.body).toEqual({ domain: "example.com" });
    expect(fake.state.records.get("example.com")!.size).toBe(0);
    expect(await p.read!(id, outs)).toEqual({ id, props: { domain: "example.com" } });
    expect(await p.diff(id, outs, { domain: "example.org" })).toEqual({ changes: true, replaces: ["domain"] });
    await p.delete(id, outs);
    expect((await p.read!(id, outs)).id).toBe("");
  });

  it("stops on a zone already in the account, saying to set createDnsZone false, and leaves the zone as it was", async () => {
    const { fake, client, providers } = await startProviders();
    await client.post("/v2/domains", { domain: "example.com" });
    await client.post("/v2/domains/example.com/records", { name: "mail", type: "A", data: "203.0.113.7", ttl: 300 });

    const message = await messageOf(providers.DnsDomain.create({ domain: "example.com" }));
    expect(message).toMatch(/^The DNS zone "example\.com" already exists in this Vultr account \(added .+, 1 record\)/);
    expect(message).toContain("pulumi config set createDnsZone false");
    expect(message).toContain("failed with HTTP 400: Domain already exists");
    expect(fake.requestsTo("DELETE", /^\/v2\/domains/)).toEqual([]);
    expect(fake.state.records.get("example.com")!.size).toBe(1);
  });

  it("passes on a refused name that is not an existing zone as Vultr said it", async () => {
    const { providers } = await startProviders();
    const message = await messageOf(providers.DnsDomain.create({ domain: "not_a_domain" }));
    expect(message).toBe("Vultr API POST /v2/domains failed with HTTP 400: Invalid domain");
  });

  it("adds records to an existing zone, or says how to get one", async () => {
    const { providers } = await startProviders();
    await providers.DnsDomain.create({ domain: "example.com" });
    const record = { domain: "example.com", name: "api", type: "A", data: "203.0.113.10", ttl: 300 };
    await expect(providers.DnsRecord.create(record)).resolves.toMatchObject({ outs: record });
    const message = await messageOf(providers.DnsRecord.create({ ...record, domain: "missing.example" }));
    expect(message).toContain('The DNS zone "missing.example" is not in this Vultr account');
    expect(message).toContain("pulumi config set createDnsZone true");
  });

  it("patches data and TTL in place, replaces on name or type", async () => {
    const { fake, providers } = await startProviders();
    await providers.DnsDomain.create({ domain: "example.com" });
    const p = providers.DnsRecord;
    const record = { domain: "example.com", name: "api", type: "AAAA", data: "2001:0db8::1", ttl: 300 };
    const { id, outs } = await p.create(record);
    expect(fake.requestsTo("POST", "/v2/domains/example.com/records")[0]!.body).toEqual({
      name: "api",
      type: "AAAA",
      data: "2001:0db8::1",
      ttl: 300,
    });
    expect(await p.diff(id, outs, { ...record, data: "2001:db8::2", ttl: 600 })).toEqual({ changes: true });
    expect(await p.diff(id, outs, { ...record, name: "www", type: "A" })).toEqual({
      changes: true,
      replaces: ["name", "type"],
    });

    // Vultr writing the same address another way is not drift.
    fake.state.records.get("example.com")!.get(id)!.data = "2001:db8::1";
    expect((await p.read!(id, outs)).props).toEqual(record);

    await p.update!(id, outs, { ...record, data: "2001:db8::2", ttl: 600 });
    expect(fake.requestsTo("PATCH", `/v2/domains/example.com/records/${id}`)[0]!.body).toEqual({
      data: "2001:db8::2",
      ttl: 600,
    });
    await p.delete(id, outs);
    expect(fake.state.records.get("example.com")!.size).toBe(0);
  });

  it("checks that a record has data (an instance without IPv6 would send none)", async () => {
    const { providers } = await startProviders();
    const { failures } = await providers.DnsRecord.check!(
      {},
      { domain: "example.com", name: "api", type: "AAAA", data: "", ttl: 300 },
    );
    expect(failures).toEqual([{ property: "data", reason: "must not be empty" }]);
  });
});
