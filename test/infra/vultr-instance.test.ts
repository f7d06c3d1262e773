// The Instance provider against the fake Vultr API: create and wait, the
// OS looked up by name, diff rules, updates, resizes, drift, a partial
// create, and a reserved IP that cannot be attached twice.
import { afterEach, describe, expect, it, vi } from "vitest";
import { INSTANCE_DIFF_RULES, type InstanceInputs, type InstanceState } from "../../infra/vultr/instance.js";
import { PartialCreateError, type ProviderSettings } from "../../infra/vultr/provider.js";
import { createVultrProviders } from "../../infra/vultr/resources.js";
import { ALREADY_ATTACHED, type FakeVultr, type FakeVultrOptions } from "../harness/fake-vultr.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("Instance", () => {
  it("looks the OS up by name, posts Vultr's fields and waits for an active instance with its addresses", async () => {
    const { fake, providers } = await startProviders({ instanceIpv4: "127.0.0.1", pendingPolls: 3 });
    const group = await providers.FirewallGroup.create({ description: "g" });
    const key = await providers.SshKey.create({ name: "k", sshKey: "ssh-ed25519 AAAA k" });
    const inputs = instanceInputs({ firewallGroupId: group.id, sshKeyIds: [key.id] });

    const { id, outs } = await providers.Instance.create(inputs);

    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(1);
    const post = fake.requestsTo("POST", "/v2/instances")[0]!;
    expect(post.status).toBe(202);
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
    const { fake, providers } = await startProviders();
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
    const { fake, providers } = await startProviders({
      os: [...filler, { id: 4242, name: "Ubuntu 24.04 LTS x64", arch: "x64", family: "ubuntu" }],
    });
    const { outs } = await providers.Instance.create(instanceInputs());
    expect(outs.osId).toBe(4242);
    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(3);
  });

  it("diffs without calling the API: what replaces, what updates", async () => {
    const { fake, providers } = await startProviders();
    const p = providers.Instance;
    const olds: InstanceState = {
      ...instanceInputs(),
      osId: 2284,
      mainIp: "192.0.2.9",
      v6MainIp: "2001:db8::1",
      internalIp: "",
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
    };
    for (const replaced of INSTANCE_DIFF_RULES.replace) {
      const news = { ...instanceInputs(), [replaced]: replacing[replaced], allowReplace: true };
      expect((await p.diff("i", olds, news)).replaces).toEqual([replaced]);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("refuses a plan that replaces the instance unless allowReplace is set, saying what would be lost", async () => {
    const { fake, providers } = await startProviders();
    const { id, outs } = await providers.Instance.create(instanceInputs());
    const message = await messageOf(providers.Instance.diff(id, outs, instanceInputs({ region: "ams" })));
    expect(message).toContain(`Refused: this plan would replace instance ${id} (region "ewr" to "ams")`);
    expect(message).toContain("the chat store");
    expect(message).toContain("pulumi config set allowReplace true");
    expect(message).toContain("npm run ops -- restore latest");
    // The user data is a secret: named, never shown.
    const secret = await messageOf(
      providers.Instance.diff(id, outs, instanceInputs({ userData: "#cloud-config\n# HOSTKEY-SECRET\n" })),
    );
    expect(secret).toContain("the cloud-init user data changed");
    expect(secret).not.toContain("HOSTKEY-SECRET");
    expect(await providers.Instance.diff(id, outs, instanceInputs({ region: "ams", allowReplace: true }))).toEqual({
      changes: true,
      replaces: ["region"],
    });
    // In-place changes need no permission.
    expect(await providers.Instance.diff(id, outs, instanceInputs({ label: "x" }))).toEqual({ changes: true });
    expect(fake.state.instances.get(id)!.region).toBe("ewr");
  });

  it("keeps the server when its SSH key was deleted and made again: a new key id is recorded, not a replacement", async () => {
    const { fake, providers } = await startProviders();
    const key = await providers.SshKey.create({ name: "k", sshKey: "ssh-ed25519 AAAA k" });
    const { id, outs } = await providers.Instance.create(instanceInputs({ sshKeyIds: [key.id] }));
    // Deleted in the console; a refresh drops it from state and the next up makes a new one.
    fake.state.sshKeys.delete(key.id);
    expect((await providers.SshKey.read!(key.id, key.outs)).id).toBe("");
    const again = await providers.SshKey.create({ name: "k", sshKey: "ssh-ed25519 AAAA k" });
    const news = instanceInputs({ sshKeyIds: [again.id] });

    const printed: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    try {
      expect(await providers.Instance.diff(id, outs, news)).toEqual({ changes: true });
    } finally {
      log.mockRestore();
    }
    expect(printed.join("\n")).toContain(
      `Instance ${id}: its SSH key ids changed (["${key.id}"] to ["${again.id}"]). Nothing changes on the server`,
    );
    const { outs: updated } = await providers.Instance.update!(id, outs, news);
    expect(updated.sshKeyIds).toEqual([again.id]);
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(0);
    expect([...fake.state.instances.keys()]).toEqual([id]);
  });

  it("updates label, tags and firewall group with one PATCH of only what changed", async () => {
    const { fake, providers } = await startProviders();
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
    const { fake, providers } = await startProviders();
    const { id, outs } = await providers.Instance.create(instanceInputs());
    const { outs: bigger } = await providers.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" }));
    expect(bigger.plan).toBe("vhp-4c-8gb-amd");
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)[0]!.body).toEqual({ plan: "vhp-4c-8gb-amd" });

    const message = await messageOf(providers.Instance.update!(id, bigger, instanceInputs({ plan: "vhp-1c-2gb-amd" })));
    expect(message).toContain('Plan "vhp-4c-8gb-amd" cannot change to "vhp-1c-2gb-amd" in place');
    expect(message).toContain("pulumi config set allowReplace true; pulumi up --replace");
    expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(1);
  });

  describe("a resize that outlasts the wait", () => {
    async function resizeGivenUp() {
      const env = await startProviders();
      const { id, outs } = await env.providers.Instance.create(instanceInputs());
      env.fake.setPendingPolls(1_000_000);
      const impatient = createVultrProviders({ ...env.overrides, instanceReadyTimeoutMs: 50 });
      const message = await messageOf(impatient.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" })));
      return { ...env, id, outs, message, instance: env.fake.state.instances.get(id)! };
    }

    it("says the resize goes on and nothing is lost; the state keeps the old plan", async () => {
      const { message, instance, id } = await resizeGivenUp();
      expect(message).toContain(`Vultr is still resizing instance ${id} to plan "vhp-4c-8gb-amd"`);
      expect(message).toContain("last seen: status resizing, plan vhp-2c-4gb-amd, resizing to vhp-4c-8gb-amd");
      expect(message).not.toContain("--replace");
      expect(instance).toMatchObject({ status: "resizing", plan: "vhp-2c-4gb-amd" });
    });

    it("is waited for by the next up, which records the new plan without asking Vultr again", async () => {
      const { fake, providers, id, outs, instance } = await resizeGivenUp();
      instance.fake.pollsLeft = 3;
      const { outs: after } = await providers.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" }));
      expect(after).toMatchObject({ plan: "vhp-4c-8gb-amd", status: "active" });
      expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(1);
      expect(fake.requestsTo("GET", `/v2/instances/${id}/upgrades`)).toHaveLength(1);
    });

    it("is found done by the next up, which records the new plan", async () => {
      const { fake, client, providers, id, outs, instance } = await resizeGivenUp();
      instance.fake.pollsLeft = 1;
      await client.get(`/v2/instances/${id}`); // Vultr finishes between two runs
      expect(instance).toMatchObject({ status: "active", plan: "vhp-4c-8gb-amd" });
      const { outs: after } = await providers.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" }));
      expect(after.plan).toBe("vhp-4c-8gb-amd");
      expect(fake.requestsTo("PATCH", `/v2/instances/${id}`)).toHaveLength(1);
    });
  });

  it("reads drift, and reports a deleted instance as gone", async () => {
    const { fake, providers } = await startProviders();
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
    const { fake, providers } = await startProviders({ pendingPolls: 1_000_000 }, { instanceReadyTimeoutMs: 60 });
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
      const env = await startProviders({ reservedIpv4: "127.0.0.2", instanceIpv4: "192.0.2.77", ...options }, settings);
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
      expect(await providers.Instance.diff(id, outs, { ...inputs, hostname: "rebuilt", allowReplace: true })).toEqual({
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
      // The fake's clock stands still until the third create, so Vultr "finishes the detach" then.
      const of: { fake?: FakeVultr } = {};
      const clock = () => ((of.fake?.requestsTo("POST", "/v2/instances").length ?? 0) > 3 ? 1_000_000 : 0);
      const { fake, providers, reserved, inputs } = await withReservedIp({ reservedIpReleaseMs: 100, clock });
      of.fake = fake;
      const first = await providers.Instance.create(inputs);
      await providers.Instance.delete(first.id, first.outs);
      const second = await providers.Instance.create({ ...inputs, hostname: "rebuilt" });
      expect(fake.requestsTo("POST", "/v2/instances").map((r) => r.status)).toEqual([202, 400, 400, 202]);
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
