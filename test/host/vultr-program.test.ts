// The Vultr program, whole, run by the real engine against a local fake of the
// Vultr API, configuring the deployed systemd test host
// (test/harness/deployed-host.ts) as the server it created: every Vultr
// resource, the host key the program makes and then replaces, renaming,
// an instance that never became active, and destroy.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { hostKeyLine, hostKeyOf } from "../../infra/host/host-keys.js";
import { HostKeyRefusedError, SshTransport } from "../../infra/host/runner/ssh.js";
import {
  DEPLOY_TIMEOUT_MS,
  deployedHost,
  fingerprint,
  hostKeyNow,
  hostSecrets,
  offlineHostConfig,
  POLICY_PACK,
  redeployByoSteps,
  resetBeforeNextFile,
  savedHostKeys,
} from "../harness/deployed-host.js";
import { startFakeVultr, type FakeVultr } from "../harness/fake-vultr.js";
import { applyFirstBootSshKeys } from "../harness/first-boot.js";
import { run } from "../harness/host-exec.js";
import {
  createStack,
  urnName,
  type CommandResult,
  type EngineStack,
  type PreviewJson,
} from "../harness/pulumi-engine.js";
import type { SystemdHost } from "../harness/systemd-host.js";

let host: SystemdHost;
let root: SshTransport;

describe("pulumi up of the Vultr program, against a local fake of the Vultr API, configuring the test host", () => {
  // The fake reports the test host's address for the new instance (and its
  // reserved IP): the engine creates every Vultr resource, then the host
  // steps run on the test host (deployed by the byo stack: nothing left to change there).
  let fake: FakeVultr;
  let stack: EngineStack;
  let up: CommandResult;

  beforeAll(async () => {
    ({ host, root } = await deployedHost());
    // The first boot and the program change the host's SSH key, and this
    // stack's settings replace the byo stack's (its bucket, whose fake is
    // gone after this file, and its alert receivers among them): the next
    // file gets all of them back.
    const restoreHostKeys = savedHostKeys();
    resetBeforeNextFile(async () => {
      await restoreHostKeys();
      await redeployByoSteps([
        "platform-host-caddy",
        "platform-host-release",
        "platform-host-stack",
        "platform-host-backups",
        "platform-host-monitoring",
      ]);
    });
    fake = await startFakeVultr({
      instanceIpv4: host.address,
      reservedIpv4: host.address,
      pendingPolls: 1,
      // As Vultr does, the reserved IP stays attached a while after its instance's DELETE: destroy must wait.
      reservedIpReleaseMs: 2000,
      // The new instance is the test host: its first boot installs the host key the user data carries.
      firstBoot: (userData) => applyFirstBootSshKeys(host.root, root, userData),
    });
    stack = await createStack({
      name: "vultr",
      config: {
        ...offlineHostConfig(),
        region: "ewr",
        hostname: "chat-platform",
        createDnsZone: "true",
        reservedIp: "true",
        backupsBucket: "true",
      },
      secrets: hostSecrets(),
      env: { VULTR_API_URL: fake.url, VULTR_API_KEY: fake.apiKey, VULTR_POLL_INTERVAL_MS: "100" },
    });
    up = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 900_000 });
    console.log(`pulumi up of the Vultr program (fake API, test host): ${(up.ms / 1000).toFixed(0)} s`);
  }, DEPLOY_TIMEOUT_MS + 1_200_000);

  afterAll(async () => {
    await stack?.remove();
    await fake?.close();
  });

  it("creates every Vultr resource as the program declares it", () => {
    const [instance] = [...fake.state.instances.values()];
    expect(fake.state.instances.size).toBe(1);
    expect(instance).toMatchObject({
      region: "ewr",
      plan: "vhp-2c-4gb-amd",
      os_id: 2284,
      hostname: "chat-platform",
      main_ip: host.address,
      firewall_group_id: [...fake.state.firewallGroups.keys()][0],
      tags: ["conversational-platform", `stack-${stack.name}`],
    });
    // Vultr takes user data base64-encoded.
    expect(Buffer.from(instance!.fake.userData, "base64").toString()).toContain("name: deploy");
    expect(instance!.fake.reservedIpId).toBe([...fake.state.reservedIps.keys()][0]);
    const rules = [...fake.state.firewallRules.values()].flatMap((group) => [...group.values()]) as Array<
      Record<string, unknown>
    >;
    expect(rules.map((r) => `${r.ip_type} ${r.port} ${r.subnet}/${r.subnet_size}`).sort()).toEqual(
      [`v4 22 ${host.gatewayAddress}/32`, "v4 80 0.0.0.0/0", "v6 80 ::/0", "v4 443 0.0.0.0/0", "v6 443 ::/0"].sort(),
    );
    const records = [...(fake.state.records.get("example.com")?.values() ?? [])];
    expect(records.map((r) => `${r.name} ${r.type} ${r.data}`).sort()).toEqual(
      [`api A ${host.address}`, `api AAAA ${instance!.v6_main_ip}`].sort(),
    );
    const [storage] = [...fake.state.objectStorages.values()];
    expect(storage).toMatchObject({ status: "active", label: `chat-platform-${stack.name}-backups` });
    expect(storage!.fake.tierId).toBeGreaterThan(0);
  });

  /** The first-boot host key pair the instance's user data carries (readable there for the server's life). */
  const firstBootKey = () => {
    const [instance] = [...fake.state.instances.values()];
    const userData = parseYaml(Buffer.from(instance!.fake.userData, "base64").toString()) as {
      ssh_keys: { ed25519_private: string; ed25519_public: string };
    };
    return { publicKey: userData.ssh_keys.ed25519_public, privateKey: userData.ssh_keys.ed25519_private };
  };

  it("boots the server with a host key the program made, its only one, so the first connection is pinned", () => {
    expect(up.stdout).not.toContain("Trust on first use");
    expect(up.stdout).toMatch(/platform-host-key\s+created/);
    expect(firstBootKey().publicKey).toMatch(/^ssh-ed25519 /);
  });

  it("replaces that key, which the user data keeps handing out, with one kept only in the state, and pins that", async () => {
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    const now = hostKeyNow();
    expect(outputs.sshHostKey).toBe(now);
    expect(now).not.toBe(hostKeyLine(hostKeyOf(firstBootKey().publicKey)));
    expect(up.stdout).toMatch(/platform-server-host-key-install\s+created/);
    expect(up.stdout).toContain(`The SSH host key of ${host.address}:22 is now ${fingerprint(now)} (ssh-ed25519)`);
    // Still its only host key, and nothing left of the swap.
    const keys = await run(root, "ls /etc/ssh | grep ^ssh_host_");
    expect(keys.stdout.trim().split("\n")).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
    // Whoever read the user data cannot pass for the server: a connection pinned to that key is refused.
    await expect(
      new SshTransport({
        host: host.address,
        port: 22,
        user: "deploy",
        privateKey: readFileSync(host.keyPath, "utf8"),
        hostKeys: [firstBootKey().publicKey],
        hostKeyFix: "none",
        dialTimeoutSeconds: 10,
      }).exec("true"),
    ).rejects.toThrow(HostKeyRefusedError);
    // The next up leaves the key alone.
    const preview = JSON.parse(
      (await stack.ok(["preview", "--json", "--show-sames", "--policy-pack", POLICY_PACK])).stdout,
    ) as PreviewJson;
    const keySteps = preview.steps.filter((p) => /platform-server-host-key-(pair|install)$/.test(p.urn));
    expect(keySteps.map((p) => `${urnName(p.urn)} ${p.op}`).sort()).toEqual([
      "platform-server-host-key-install same",
      "platform-server-host-key-pair same",
    ]);
  }, 300_000);

  it("keeps both host keys' private halves and the user data only encrypted in the state", async () => {
    const state = (await stack.ok(["stack", "export"])).stdout;
    const privateKey = readFileSync(join(host.root, "etc/ssh/ssh_host_ed25519_key"), "utf8");
    expect(state).toContain("platform-host-key");
    expect(state).toContain("platform-server-host-key-install");
    for (const key of [privateKey, firstBootKey().privateKey]) {
      // The lines after the first hold the key itself (the first is the same in every such key).
      const keyLines = key.trim().split("\n").slice(2, -1);
      expect(keyLines.length).toBeGreaterThan(1);
      for (const line of keyLines) expect(state.includes(line), "a host's private key in plain text").toBe(false);
    }
    // As the host-key step's script carries it.
    expect(state.includes(Buffer.from(privateKey).toString("base64").slice(0, 60))).toBe(false);
    expect(state.includes("ssh_deletekeys")).toBe(false);
  });

  it("configures the server it created and reports it healthy, with the backup keys as secrets", async () => {
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(outputs).toMatchObject({ ipv4: host.address, nameservers: ["ns1.vultr.com", "ns2.vultr.com"] });
    expect(JSON.parse(String(outputs.health))).toMatchObject({ status: "ok" });
    expect(outputs.backupAccessKey).toBe("[secret]");
    expect(outputs.backupSecretKey).toBe("[secret]");
  });

  it("renames the server without replacing anything", async () => {
    await stack.ok(["config", "set", "hostname", "chat-renamed"]);
    const preview = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
    const steps = (JSON.parse(preview.stdout) as PreviewJson).steps;
    const changed = steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${urnName(s.urn)}`);
    expect(changed.filter((c) => /^(replace|create-replacement|delete|delete-replaced|create) /.test(c))).toEqual([]);
    expect(changed).toContain("update platform-server-instance");
  });

  it("keeps an instance that never became active in state, and deletes it on destroy", async () => {
    // A second fake whose instances stay pending; the provider gives up after 1 s.
    const stuck = await startFakeVultr({ pendingPolls: 1_000_000 });
    const broken = await createStack({
      name: "stuck",
      config: { ...offlineHostConfig(), reservedIp: "false", createDnsZone: "false", protectData: "false" },
      secrets: hostSecrets(),
      env: {
        VULTR_API_URL: stuck.url,
        VULTR_API_KEY: stuck.apiKey,
        VULTR_POLL_INTERVAL_MS: "50",
        VULTR_WAIT_TIMEOUT_MS: "1000",
      },
    });
    try {
      const failed = await broken.run(["up", "--yes", "--skip-preview"]);
      expect(failed.code).not.toBe(0);
      expect(failed.stdout).toMatch(/Instance \S+ was created but is not ready/);
      expect(stuck.state.instances.size).toBe(1);
      await broken.ok(["destroy", "--yes", "--skip-preview"]);
      expect(stuck.state.instances.size).toBe(0);
    } finally {
      await broken.remove();
      await stuck.close();
    }
  }, 300_000);

  it("keeps the server when its SSH key was deleted in the console and a refresh dropped it", async () => {
    const [instanceId] = [...fake.state.instances.keys()];
    fake.state.sshKeys.clear();
    await stack.ok(["refresh", "--yes", "--skip-preview"]);
    const preview = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
    const steps = (JSON.parse(preview.stdout) as PreviewJson).steps;
    const ops = Object.fromEntries(steps.map((s) => [urnName(s.urn), s.op]));
    expect(ops["platform-server-key"]).toBe("create");
    expect(ops["platform-server-instance"]).toBe("update");
    expect(steps.filter((s) => /replace|delete/.test(s.op)).map((s) => urnName(s.urn))).toEqual([]);
    const plain = await stack.ok(["preview", "--policy-pack", POLICY_PACK]);
    expect(plain.stdout).toContain(`Instance ${instanceId}: its SSH key ids changed (["`);
    expect(plain.stdout).toContain("to [(a new key)]). Nothing changes on the server");
  }, 300_000);

  it("refuses a plan that would replace the server, saying what would be lost", async () => {
    await stack.ok(["config", "set", "osName", "Debian 12 x64 (bookworm)"]);
    try {
      const refused = await stack.run(["preview", "--policy-pack", POLICY_PACK]);
      expect(refused.code).not.toBe(0);
      const said = refused.stdout + refused.stderr;
      expect(said).toMatch(
        /Refused: this plan would replace instance \S+ \(osName "Ubuntu 24\.04 LTS x64" to "Debian 12/,
      );
      expect(said).toContain("the chat store");
      expect(said).toContain("npm run ops -- restore latest");
    } finally {
      await stack.ok(["config", "rm", "osName"]);
    }
  }, 300_000);

  it("refuses destroy while protectData is on, deleting nothing, and names the setting", async () => {
    const before = fakeCounts();
    const refused = await stack.run(["destroy", "--yes", "--skip-preview"], { timeoutMs: 600_000 });
    expect(refused.code).not.toBe(0);
    const said = refused.stdout + refused.stderr;
    expect(said).toMatch(/DataProtection::protectData" cannot be deleted\s+because it is protected/);
    console.log(`pulumi destroy of a protected stack says:\n${said.slice(said.indexOf("error:"))}`);
    // Not a record, not a firewall rule: the platform still answers at its name.
    expect(fakeCounts()).toEqual(before);
    expect(before.records).toBe(2);
    expect(before.rules).toBe(5);
  }, 600_000);

  /** What the fake holds, kind by kind. */
  const fakeCounts = () => ({
    instances: fake.state.instances.size,
    groups: fake.state.firewallGroups.size,
    rules: [...fake.state.firewallRules.values()].reduce((n, group) => n + group.size, 0),
    keys: fake.state.sshKeys.size,
    reservedIps: fake.state.reservedIps.size,
    domains: fake.state.domains.size,
    records: [...fake.state.records.values()].reduce((n, zone) => n + zone.size, 0),
    storages: fake.state.objectStorages.size,
  });

  it("deletes every Vultr resource on destroy once protectData is off", async () => {
    await stack.ok(["config", "set", "protectData", "false"]);
    await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 600_000 });
    await stack.ok(["destroy", "--yes", "--skip-preview"], { timeoutMs: 600_000 });
    const reservedIpDeletes = fake.requestsTo("DELETE", /^\/v2\/reserved-ips\//).map((r) => r.status);
    expect(reservedIpDeletes.at(-1)).toBe(204);
    expect(fake.state.instances.size).toBe(0);
    expect(fake.state.firewallGroups.size).toBe(0);
    expect(fake.state.sshKeys.size).toBe(0);
    expect(fake.state.reservedIps.size).toBe(0);
    expect(fake.state.domains.size).toBe(0);
    expect(fake.state.objectStorages.size).toBe(0);
  }, 600_000);
});
