import { afterEach, describe, expect, it } from "vitest";
import { VultrApiError, VultrClient } from "../../infra/vultr/client.js";
import { INSTANCE_DIFF_RULES, type InstanceInputs, type InstanceState } from "../../infra/vultr/instance.js";
import { PartialCreateError, settingsFromEnv, type ProviderSettings } from "../../infra/vultr/provider.js";
import { createVultrProviders, vultrProviders } from "../../infra/vultr/resources.js";
import {
  ALREADY_ATTACHED,
  DEFAULT_OS,
  INVALID_TIER,
  startFakeVultr,
  type FakeVultr,
  type FakeVultrOptions,
} from "../harness/fake-vultr.js";

const running: FakeVultr[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((fake) => fake.close()));
});

/** A fake API and the providers pointed at it, with waits short enough for a test. */
async function setup(options: FakeVultrOptions = {}, settings: Partial<ProviderSettings> = {}) {
  const fake = await startFakeVultr(options);
  running.push(fake);
  const client = () => new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, retryBaseDelayMs: 1 });
  const overrides: Partial<ProviderSettings> = {
    client,
    pollIntervalMs: 5,
    instanceReadyTimeoutMs: 2000,
    objectStorageReadyTimeoutMs: 2000,
    reservedIpReleaseTimeoutMs: 1000,
    ...settings,
  };
  return { fake, client: client(), providers: createVultrProviders(overrides), overrides };
}

function instanceInputs(overrides: Partial<InstanceInputs> = {}): InstanceInputs {
  return {
    region: "ewr",
    plan: "vhp-2c-4gb-amd",
    osName: "Ubuntu 24.04 LTS x64",
    hostname: "chat-platform",
    label: "chat-platform",
    enableIpv6: true,
    backups: "disabled",
    activationEmail: false,
    ddosProtection: false,
    firewallGroupId: "",
    sshKeyIds: [],
    tags: ["chat", "prod"],
    userData: "#cloud-config\npackage_update: true\n",
    ...overrides,
  };
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error("expected a rejection");
}

describe("VultrClient", () => {
  it("names VULTR_API_KEY and how to set it when the key is missing", () => {
    expect(() => VultrClient.fromEnv({})).toThrow(/VULTR_API_KEY is not set.*export VULTR_API_KEY=/);
    expect(() => settingsFromEnv({}).client()).toThrow(/VULTR_API_KEY/);
  });

  it("rejects a wait setting that is not a number of milliseconds, naming it", () => {
    expect(() => settingsFromEnv({ VULTR_POLL_INTERVAL_MS: "soon" })).toThrow(
      'VULTR_POLL_INTERVAL_MS must be a positive number of milliseconds, got "soon"',
    );
    expect(settingsFromEnv({ VULTR_WAIT_TIMEOUT_MS: "1000" }).instanceReadyTimeoutMs).toBe(1000);
  });

  it("reads VULTR_API_URL, with or without a trailing /v2", async () => {
    const { fake } = await setup();
    const client = VultrClient.fromEnv({ VULTR_API_KEY: fake.apiKey, VULTR_API_URL: `${fake.url}/v2/` });
    expect(client.baseUrl).toBe(fake.url);
    expect(VultrClient.fromEnv({ VULTR_API_KEY: "k" }).baseUrl).toBe("https://api.vultr.com");
    await client.get("/v2/os");
    expect(fake.requests.at(-1)).toMatchObject({ path: "/v2/os", authorization: `Bearer ${fake.apiKey}` });
  });

  it("explains a 401 without repeating the key", async () => {
    const { fake } = await setup();
    const client = new VultrClient({ apiKey: "wrong-key-abcdef", baseUrl: fake.url });
    const message = await messageOf(client.get("/v2/os"));
    expect(message).toContain("GET /v2/os failed with HTTP 401: Invalid API token.");
    expect(message).toContain("VULTR_API_KEY");
    expect(message).not.toContain("wrong-key-abcdef");
  });

  it("turns a 404 into a VultrApiError with Vultr's message", async () => {
    const { client } = await setup();
    const error = await client.get("/v2/instances/no-such-id").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VultrApiError);
    expect((error as VultrApiError).status).toBe(404);
    expect((error as Error).message).toBe(
      "Vultr API GET /v2/instances/no-such-id failed with HTTP 404: instance not found",
    );
  });

  it("does not retry a 422, and keeps request bodies (keys, user data) out of the error", async () => {
    const { fake, client } = await setup();
    fake.inject({ status: 422, path: "/v2/ssh-keys", body: { error: "Unprocessable: key too short", status: 422 } });
    const message = await messageOf(client.post("/v2/ssh-keys", { name: "k", ssh_key: "ssh-ed25519 SECRETISH" }));
    expect(message).toBe("Vultr API POST /v2/ssh-keys failed with HTTP 422: Unprocessable: key too short");
    expect(fake.requestsTo("POST", "/v2/ssh-keys")).toHaveLength(1);
  });

  it("retries 429 and 500 with backoff, then succeeds", async () => {
    const { fake, client } = await setup();
    fake.inject({ status: 429, path: "/v2/os", times: 2 });
    fake.inject({ status: 500, path: "/v2/os" });
    const os = await client.listAll("/v2/os", "os");
    expect(os).toHaveLength(DEFAULT_OS.length);
    expect(fake.requestsTo("GET", "/v2/os").map((r) => r.status)).toEqual([429, 429, 500, 200]);
  });

  it("gives up after a bounded number of retries and says so", async () => {
    const { fake } = await setup();
    fake.inject({ status: 503, path: "/v2/os", times: 10 });
    const client = new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 2, retryBaseDelayMs: 1 });
    const message = await messageOf(client.get("/v2/os"));
    expect(message).toBe("Vultr API GET /v2/os failed with HTTP 503 after 3 attempts: Internal server error");
    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(3);
  });

  it("follows meta.links.next across pages", async () => {
    const os = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `OS ${i + 1}`, arch: "x64", family: "f" }));
    const { fake, client } = await setup({ os });
    const all = await client.listAll<{ id: number }>("/v2/os", "os", { perPage: 3 });
    expect(all.map((o) => o.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const pages = fake.requestsTo("GET", "/v2/os");
    expect(pages.map((r) => r.query.per_page)).toEqual(["3", "3", "3"]);
    expect(pages[0]!.query.cursor).toBeUndefined();
    expect(pages[1]!.query.cursor).toBeTruthy();
  });
});

describe("registry", () => {
  it("has one provider per kind, and diff needs neither key nor network", async () => {
    expect(Object.keys(vultrProviders).sort()).toEqual(
      [
        "DnsDomain",
        "DnsRecord",
        "FirewallGroup",
        "FirewallRule",
        "Instance",
        "ObjectStorage",
        "ReservedIp",
        "SshKey",
      ].sort(),
    );
    const olds = {
      ...instanceInputs(),
      osId: 2284,
      mainIp: "192.0.2.1",
      v6MainIp: "",
      status: "active",
      dateCreated: "",
    };
    await expect(vultrProviders.Instance!.diff("id", olds, instanceInputs({ label: "x" }))).resolves.toEqual({
      changes: true,
    });
  });
});

describe("FirewallGroup and FirewallRule", () => {
  it("creates, reads, updates in place and deletes a group", async () => {
    const { fake, providers } = await setup();
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
    const { fake, providers } = await setup();
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
    const { fake, providers } = await setup();
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
    const { fake, providers } = await setup();
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
    const { providers } = await setup();
    const { failures } = await providers.SshKey.check!(
      {},
      { name: "k", sshKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
    );
    expect(failures).toEqual([{ property: "sshKey", reason: expect.stringContaining("public key") }]);
  });
});

describe("ReservedIp", () => {
  it("reports the address as subnet, updates the label, replaces on region or type", async () => {
    const { fake, providers } = await setup({ reservedIpv4: "203.0.113.50" });
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

describe("Instance", () => {
  it("looks the OS up by name, posts Vultr's fields and waits for an active instance with its addresses", async () => {
    const { fake, providers } = await setup({ instanceIpv4: "127.0.0.1", pendingPolls: 3 });
    const group = await providers.FirewallGroup.create({ description: "g" });
    const key = await providers.SshKey.create({ name: "k", sshKey: "ssh-ed25519 AAAA k" });
    const inputs = instanceInputs({ firewallGroupId: group.id, sshKeyIds: [key.id] });

    const { id, outs } = await providers.Instance.create(inputs);

    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(1);
    const post = fake.requestsTo("POST", "/v2/instances")[0]!;
    expect(post.status).toBe(201);
    expect(post.body).toEqual({
      region: "ewr",
      plan: "vhp-2c-4gb-amd",
      os_id: 2284,
      hostname: "chat-platform",
      label: "chat-platform",
      tags: ["chat", "prod"],
      enable_ipv6: true,
      backups: "disabled",
      activation_email: false,
      ddos_protection: false,
      sshkey_id: [key.id],
      firewall_group_id: group.id,
      user_data: Buffer.from(inputs.userData).toString("base64"),
    });
    // Polled until active: three GETs answered pending/0.0.0.0, the third turned it active.
    expect(fake.requestsTo("GET", `/v2/instances/${id}`)).toHaveLength(3);
    expect(outs).toMatchObject({ ...inputs, osId: 2284, mainIp: "127.0.0.1", status: "active" });
    expect(outs.v6MainIp).toMatch(/^2001:db8:/);
    expect(JSON.stringify(outs)).not.toContain("Pa55word"); // the root password is never kept
  });

  it("names close OS names when none matches exactly, before creating anything", async () => {
    const { fake, providers } = await setup();
    const message = await messageOf(providers.Instance.create(instanceInputs({ osName: "Ubuntu 24.04 x64" })));
    expect(message).toContain('No Vultr operating system is named "Ubuntu 24.04 x64"');
    expect(message).toContain('"Ubuntu 24.04 LTS x64"');
    expect(message).toContain('pulumi config set osName "Ubuntu 24.04 LTS x64"');
    expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(0);
  });

  it("finds the OS on a later page of GET /v2/os", async () => {
    const filler = Array.from({ length: 230 }, (_, i) => ({
      id: 5000 + i,
      name: `Filler ${i}`,
      arch: "x64",
      family: "f",
    }));
    const { fake, providers } = await setup({
      os: [...filler, { id: 4242, name: "Ubuntu 24.04 LTS x64", arch: "x64", family: "ubuntu" }],
    });
    const { outs } = await providers.Instance.create(instanceInputs());
    expect(outs.osId).toBe(4242);
    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(3);
  });

  it("diffs without calling the API: what replaces, what updates", async () => {
    const { fake, providers } = await setup();
    const p = providers.Instance;
    const olds: InstanceState = {
      ...instanceInputs(),
      osId: 2284,
      mainIp: "192.0.2.9",
      v6MainIp: "2001:db8::1",
      status: "active",
      dateCreated: "",
    };
    expect(await p.diff("i", olds, instanceInputs({ tags: ["prod", "chat"] }))).toEqual({ changes: false });
    expect(
      await p.diff("i", olds, instanceInputs({ label: "x", plan: "vhp-4c-8gb-amd", firewallGroupId: "fw" })),
    ).toEqual({
      changes: true,
    });
    const replacing: Partial<InstanceInputs> = {
      region: "ams",
      osName: "Debian 12 x64 (bookworm)",
      hostname: "h2",
      userData: "#cloud-config\n",
      reservedIpId: "rip",
      sshKeyIds: ["k2"],
    };
    for (const replaced of INSTANCE_DIFF_RULES.replace) {
      const result = await p.diff("i", olds, { ...instanceInputs(), [replaced]: replacing[replaced] });
      expect(result.replaces).toEqual([replaced]);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("updates label, tags and firewall group with one PATCH of only what changed", async () => {
    const { fake, providers } = await setup();
    const group = await providers.FirewallGroup.create({ description: "g" });
    const { id, outs } = await providers.Instance.create(instanceInputs());
    const next = instanceInputs({ label: "renamed", tags: ["chat"], firewallGroupId: group.id });
    const { outs: updated } = await providers.Instance.update!(id, outs, next);
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`).map((r) => [r.status, r.body])).toEqual([
      [202, { label: "renamed", tags: ["chat"], firewall_group_id: group.id }],
    ]);
    expect(updated).toMatchObject({ label: "renamed", tags: ["chat"], firewallGroupId: group.id, mainIp: outs.mainIp });
  });

  it("resizes to a larger plan and waits for it; explains that a smaller one needs a replace", async () => {
    const { fake, providers } = await setup();
    const { id, outs } = await providers.Instance.create(instanceInputs());
    const { outs: bigger } = await providers.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" }));
    expect(bigger.plan).toBe("vhp-4c-8gb-amd");
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)[0]!.body).toEqual({ plan: "vhp-4c-8gb-amd" });

    const message = await messageOf(providers.Instance.update!(id, bigger, instanceInputs({ plan: "vhp-1c-2gb-amd" })));
    expect(message).toContain('Plan "vhp-4c-8gb-amd" cannot change to "vhp-1c-2gb-amd" in place');
    expect(message).toContain("pulumi up --replace");
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(1);
  });

  it("reads drift, and reports a deleted instance as gone", async () => {
    const { fake, providers } = await setup();
    const { id, outs } = await providers.Instance.create(instanceInputs());
    fake.state.instances.get(id)!.label = "changed-in-console";
    expect((await providers.Instance.read!(id, outs)).props).toMatchObject({
      label: "changed-in-console",
      userData: outs.userData,
    });
    await providers.Instance.delete(id, outs);
    expect(fake.requestsTo("DELETE", `/v2/instances/${id}`)[0]!.status).toBe(204);
    expect((await providers.Instance.read!(id, outs)).id).toBe("");
  });

  it("keeps an instance that never became ready in state, and finishes it on the next update", async () => {
    const { fake, providers } = await setup({ pendingPolls: 1_000_000 }, { instanceReadyTimeoutMs: 60 });
    const inputs = instanceInputs();
    const error = await providers.Instance.create(inputs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialCreateError);
    const partial = error as PartialCreateError;
    expect(partial.message).toMatch(/did not finish within 60 ms \(last seen: status pending, main_ip 0\.0\.0\.0/);
    expect(fake.state.instances.has(partial.id)).toBe(true);
    expect(partial.properties).toMatchObject({ mainIp: "0.0.0.0", osId: 2284 });

    fake.state.instances.get(partial.id)!.fake.pollsLeft = 1;
    const { outs } = await providers.Instance.update!(partial.id, partial.properties as any, inputs);
    expect(outs).toMatchObject({ status: "active", mainIp: expect.stringMatching(/^192\.0\.2\./) });
  });

  describe("with a reserved IP", () => {
    async function withReservedIp(options: FakeVultrOptions = {}, settings: Partial<ProviderSettings> = {}) {
      const env = await setup({ reservedIpv4: "127.0.0.2", instanceIpv4: "192.0.2.77", ...options }, settings);
      const reserved = await env.providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
      return { ...env, reserved, inputs: instanceInputs({ reservedIpId: reserved.id }) };
    }

    it("creates the instance with reserved_ipv4 and reports the reserved address as mainIp", async () => {
      const { fake, providers, reserved, inputs } = await withReservedIp();
      const { id, outs } = await providers.Instance.create(inputs);
      expect(fake.requestsTo("POST", "/v2/instances")[0]!.body).toMatchObject({ reserved_ipv4: reserved.id });
      expect(outs.mainIp).toBe("127.0.0.2");
      expect(fake.state.reservedIps.get(reserved.id)!.instance_id).toBe(id);
    });

    it("asks for delete-before-replace, since the IP cannot be attached twice", async () => {
      const { providers, inputs } = await withReservedIp();
      const { id, outs } = await providers.Instance.create(inputs);
      expect(await providers.Instance.diff(id, outs, { ...inputs, hostname: "rebuilt" })).toEqual({
        changes: true,
        replaces: ["hostname"],
        deleteBeforeReplace: true,
      });
      expect(await providers.Instance.diff(id, outs, { ...inputs, label: "x" })).toEqual({ changes: true });
    });

    it("fails create-before-delete with Vultr's 'already attached', naming the instance holding it", async () => {
      const { fake, providers, inputs } = await withReservedIp({}, { reservedIpReleaseTimeoutMs: 30 });
      const first = await providers.Instance.create(inputs);
      const message = await messageOf(providers.Instance.create({ ...inputs, hostname: "second" }));
      expect(message).toContain(`is still attached to instance "${first.id}"`);
      expect(message).toContain(ALREADY_ATTACHED);
      expect(fake.requestsTo("POST", "/v2/instances").filter((r) => r.status === 400).length).toBeGreaterThan(0);
      expect(fake.state.instances.size).toBe(1);
    });

    it("replaces delete-first, retrying while Vultr still finishes the detach", async () => {
      const { fake, providers, reserved, inputs } = await withReservedIp({ reservedIpReleaseLag: 2 });
      const first = await providers.Instance.create(inputs);
      await providers.Instance.delete(first.id, first.outs);
      const second = await providers.Instance.create({ ...inputs, hostname: "rebuilt" });
      expect(fake.requestsTo("POST", "/v2/instances").map((r) => r.status)).toEqual([201, 400, 400, 201]);
      expect(second.outs.mainIp).toBe("127.0.0.2");
      expect(fake.state.reservedIps.get(reserved.id)!.instance_id).toBe(second.id);
    });

    it("refuses a reserved IP from another region before creating anything", async () => {
      const { fake, providers, inputs } = await withReservedIp();
      const message = await messageOf(providers.Instance.create({ ...inputs, region: "ams" }));
      expect(message).toMatch(/is in region "ewr", the instance in "ams"/);
      expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(0);
    });
  });
});

describe("DNS", () => {
  it("creates an empty zone (no ip sent), reads it and deletes it", async () => {
    const { fake, providers } = await setup();
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

  it("adds records to an existing zone, or says how to get one", async () => {
    const { providers } = await setup();
    await providers.DnsDomain.create({ domain: "example.com" });
    const record = { domain: "example.com", name: "api", type: "A", data: "203.0.113.10", ttl: 300 };
    await expect(providers.DnsRecord.create(record)).resolves.toMatchObject({ outs: record });
    const message = await messageOf(providers.DnsRecord.create({ ...record, domain: "missing.example" }));
    expect(message).toContain('The DNS zone "missing.example" is not in this Vultr account');
    expect(message).toContain("pulumi config set createDnsZone true");
  });

  it("patches data and TTL in place, replaces on name or type", async () => {
    const { fake, providers } = await setup();
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
    const { providers } = await setup();
    const { failures } = await providers.DnsRecord.check!(
      {},
      { domain: "example.com", name: "api", type: "AAAA", data: "", ttl: 300 },
    );
    expect(failures).toEqual([{ property: "data", reason: "must not be empty" }]);
  });
});

describe("ObjectStorage", () => {
  it("is refused by Vultr without a tier, as the real API does", async () => {
    const { client } = await setup();
    const message = await messageOf(client.post("/v2/object-storage", { cluster_id: 2, label: "backups" }));
    expect(message).toBe(`Vultr API POST /v2/object-storage failed with HTTP 400: ${INVALID_TIER}`);
  });

  it("finds the region's open cluster and its default tier, then waits until active", async () => {
    const { fake, providers } = await setup();
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
    const withDefault = await setup({ clusters: [cluster], tiers: [tier(1, 5, "no"), tier(2, 18, "yes")] });
    expect((await withDefault.providers.ObjectStorage.create({ region: "ewr", label: "b" })).outs.tierId).toBe(2);
    const noDefault = await setup({ clusters: [cluster], tiers: [tier(3, 40, "no"), tier(4, 12, "no")] });
    expect((await noDefault.providers.ObjectStorage.create({ region: "ewr", label: "b" })).outs.tierId).toBe(4);
  });

  it("takes a named tier, and lists the tiers offered when the name matches none", async () => {
    const { fake, providers } = await setup();
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
    const { providers } = await setup();
    const message = await messageOf(providers.ObjectStorage.create({ region: "fra", label: "b" }));
    expect(message).toContain('takes no new subscriptions in region "fra". Regions that do: ams, ewr, sjc');
  });

  it("updates the label (PUT), replaces on region or another tier, keeps it when the tier is only named", async () => {
    const { fake, providers } = await setup();
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
