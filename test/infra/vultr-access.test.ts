// Who may reach the server: the FirewallGroup, FirewallRule and SshKey
// providers against the fake Vultr API.
import { afterEach, describe, expect, it } from "vitest";
import { closeFakeVultrs, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("FirewallGroup and FirewallRule", () => {
  it("creates, reads, updates in place and deletes a group", async () => {
    const { fake, providers } = await startProviders();
    const p = providers.FirewallGroup;
    const { id, outs } = await p.create({ description: "chat-platform" });
    expect(outs).toEqual({ description: "chat-platform" });
    expect(fake.requestsTo("POST", "/v2/firewalls")[0]!.status).toBe(201);

    expect(await p.diff(id, outs, { description: "chat-platform" })).toEqual({ changes: false });
    expect(await p.diff(id, outs, { description: "renamed" })).toEqual({ changes: true });
    await p.update!(id, outs, { description: "renamed" });
    expect(fake.requestsTo("PUT", `/v2/firewalls/${id}`)[0]).toMatchObject({ body: { description: "renamed" } });
    expect(await p.read!(id, outs)).toEqual({ id, props: { description: "renamed" } });

    await p.delete(id, outs);
    expect(fake.requestsTo("DELETE", `/v2/firewalls/${id}`)[0]!.status).toBe(204);
    expect((await p.read!(id, outs)).id).toBe("");
    await p.delete(id, outs); // already gone: not an error
  });

  it("creates a rule with Vultr's field names and replaces it on any change", async () => {
    const { fake, providers } = await startProviders();
    const group = await providers.FirewallGroup.create({ description: "g" });
    const rule = {
      firewallGroupId: group.id,
      ipType: "v6",
      protocol: "tcp",
      port: "443",
      subnet: "::",
      subnetSize: 0,
      notes: "HTTPS",
    };
    const { id, outs } = await providers.FirewallRule.create(rule);
    expect(id).toMatch(/^\d+$/);
    expect(fake.requestsTo("POST", `/v2/firewalls/${group.id}/rules`)[0]!.body).toEqual({
      ip_type: "v6",
      protocol: "tcp",
      subnet: "::",
      subnet_size: 0,
      port: "443",
      notes: "HTTPS",
    });
    expect(await providers.FirewallRule.read!(id, outs)).toEqual({ id, props: rule });
    expect(await providers.FirewallRule.diff(id, outs, rule)).toEqual({ changes: false });
    expect(await providers.FirewallRule.diff(id, outs, { ...rule, port: "80", notes: "HTTP" })).toEqual({
      changes: true,
      replaces: ["port", "notes"],
    });
    expect(providers.FirewallRule.update).toBeUndefined();

    await providers.FirewallRule.delete(id, outs);
    expect((await providers.FirewallRule.read!(id, outs)).id).toBe("");
  });

  it("checks rule inputs before anything is sent", async () => {
    const { fake, providers } = await startProviders();
    const bad = {
      firewallGroupId: "g",
      ipType: "v5",
      protocol: "tcp",
      port: "22",
      subnet: "10.0.0.0",
      subnetSize: 40,
      notes: "",
    };
    const { failures } = await providers.FirewallRule.check!({}, bad);
    expect(failures?.map((f) => f.property)).toEqual(["ipType", "subnetSize"]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe("SshKey", () => {
  it("creates, updates name and key in place (PATCH), reads and deletes", async () => {
    const { fake, providers } = await startProviders();
    const p = providers.SshKey;
    const key = { name: "chat-platform-deploy", sshKey: "ssh-ed25519 AAAAC3Nza ops@example.com" };
    const { id, outs } = await p.create(key);
    expect(outs).toEqual(key);
    const next = { name: "renamed", sshKey: "ssh-ed25519 AAAAother ops@example.com" };
    expect(await p.diff(id, outs, next)).toEqual({ changes: true });
    await p.update!(id, outs, next);
    expect(fake.requestsTo("PATCH", `/v2/ssh-keys/${id}`)[0]!.body).toEqual({ name: "renamed", ssh_key: next.sshKey });
    expect(await p.read!(id, { ...next, sshKey: `${next.sshKey}\n` })).toEqual({
      id,
      props: { ...next, sshKey: `${next.sshKey}\n` },
    });
    await p.delete(id, next);
    expect(fake.state.sshKeys.size).toBe(0);
  });

  it("refuses a private key in check", async () => {
    const { providers } = await startProviders();
    const { failures } = await providers.SshKey.check!(
      {},
      { name: "k", sshKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
    );
    expect(failures).toEqual([{ property: "sshKey", reason: expect.stringContaining("public key") }]);
  });
});
