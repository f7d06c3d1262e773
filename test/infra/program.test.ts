// The production program under the real Pulumi engine: `pulumi preview` with
// the policy pack, offline, with a realistic config and a dummy Vultr API key
// (a preview never calls the Vultr API: the OS is looked up when the instance
// is created). What the engine plans is checked resource by resource.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createStack,
  urnName,
  type EngineStack,
  type PreviewJson,
  type PreviewStep,
} from "../harness/pulumi-engine.js";
import { generateKeyPair, KEYS, REALISTIC_CONFIG, REALISTIC_SECRETS } from "../harness/stack-configs.js";

/** The engine's placeholder for a value only known after an update. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const T = {
  group: "pulumi-nodejs:dynamic/vultr:FirewallGroup",
  rule: "pulumi-nodejs:dynamic/vultr:FirewallRule",
  key: "pulumi-nodejs:dynamic/vultr:SshKey",
  reserved: "pulumi-nodejs:dynamic/vultr:ReservedIp",
  instance: "pulumi-nodejs:dynamic/vultr:Instance",
  zone: "pulumi-nodejs:dynamic/vultr:DnsDomain",
  record: "pulumi-nodejs:dynamic/vultr:DnsRecord",
  storage: "pulumi-nodejs:dynamic/vultr:ObjectStorage",
  guard: "conversational-platform:safety:DataProtection",
  step: "pulumi-nodejs:dynamic/host:Step",
  hostKey: "pulumi-nodejs:dynamic/host:HostKey",
  hostKeyInstall: "pulumi-nodejs:dynamic/host:HostKeyInstall",
  knownHost: "pulumi-nodejs:dynamic/host:KnownHost",
};

interface Plan {
  steps: PreviewStep[];
  ofType(type: string): PreviewStep[];
  one(type: string): Record<string, any>;
  byName(name: string): PreviewStep;
  output: string;
}

async function preview(stack: EngineStack): Promise<Plan> {
  const result = await stack.ok(["preview", "--json", "--policy-pack", "dist/policy-pack"], {
    env: { VULTR_API_KEY: "dummy-key-a-preview-never-uses" },
  });
  const json = JSON.parse(result.stdout) as PreviewJson;
  const ofType = (type: string) => json.steps.filter((s) => s.newState?.type === type);
  return {
    steps: json.steps,
    ofType,
    one(type) {
      const found = ofType(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0]!.newState!.inputs;
    },
    byName: (name) => json.steps.find((s) => urnName(s.urn) === name)!,
    output: result.stdout + result.stderr,
  };
}

describe("pulumi preview of the production program", () => {
  let stack: EngineStack;
  let plan: Plan;
  beforeAll(async () => {
    stack = await createStack({ name: "prod", config: REALISTIC_CONFIG, secrets: REALISTIC_SECRETS });
    plan = await preview(stack);
  }, 600_000);
  afterAll(() => stack?.remove());

  it("plans exactly these resources, all to be created, and passes the policy pack", () => {
    expect(plan.steps.every((s) => s.op === "create")).toBe(true);
    expect(plan.steps.map((s) => s.newState!.type).sort()).toEqual(
      [
        "pulumi:pulumi:Stack",
        "conversational-platform:vultr:Environment",
        "conversational-platform:network:Firewall",
        "conversational-platform:compute:Server",
        "conversational-platform:network:Dns",
        "conversational-platform:storage:BackupBucket",
        "conversational-platform:host:HostConfiguration",
        "conversational-platform:host:InstalledHostKey",
        T.guard,
        T.group,
        ...Array(6).fill(T.rule),
        T.key,
        T.reserved,
        T.instance,
        T.zone,
        T.record,
        T.record,
        T.storage,
        T.hostKey,
        T.hostKey,
        T.hostKeyInstall,
        ...Array(8).fill(T.step),
      ].sort(),
    );
  });

  it("opens SSH to the admin CIDRs only, HTTP and HTTPS to all, on v4 and v6, and nothing else", () => {
    const rules = plan.ofType(T.rule).map((s) => s.newState!.inputs);
    expect(rules.map((r) => `${r.ipType} ${r.protocol} ${r.port} ${r.subnet}/${r.subnetSize}`).sort()).toEqual(
      [
        "v4 tcp 22 203.0.113.7/32",
        "v6 tcp 22 2001:db8:1234::/48",
        "v4 tcp 80 0.0.0.0/0",
        "v6 tcp 80 ::/0",
        "v4 tcp 443 0.0.0.0/0",
        "v6 tcp 443 ::/0",
      ].sort(),
    );
  });

  it("creates the instance with IPv6, no Vultr backups, no activation e-mail, a firewall, the key and the reserved IP", () => {
    expect(plan.one(T.instance)).toMatchObject({
      region: "ewr",
      plan: "vhp-2c-4gb-amd",
      osName: "Ubuntu 24.04 LTS x64",
      hostname: "chat-platform",
      enableIpv6: true,
      backups: "disabled",
      activationEmail: false,
      firewallGroupId: UNKNOWN,
      sshKeyIds: [UNKNOWN],
      reservedIpId: UNKNOWN,
      tags: ["conversational-platform", `stack-${stack.name}`],
    });
    expect(plan.one(T.key).sshKey).toBe(KEYS.publicKey);
    expect(plan.one(T.reserved)).toMatchObject({ region: "ewr", ipType: "v4" });
    expect(plan.one(T.storage)).toMatchObject({ region: "ewr", label: `chat-platform-${stack.name}-backups` });
  });

  it("protects the server, its IP, the zone and the backups bucket, and puts a protected resource first in any destroy", () => {
    const isProtected = (s: PreviewStep) => s.newState!.protect === true;
    expect(
      plan.steps
        .filter(isProtected)
        .map((s) => s.newState!.type)
        .sort(),
    ).toEqual([T.instance, T.reserved, T.zone, T.storage, T.guard].sort());
    expect(plan.one(T.instance).allowReplace).toBe(false);
    // The guard depends on every resource (the engine deletes dependents first),
    // so a destroy meets it before anything else; its name is the setting.
    const guard = plan.steps.find((s) => s.newState!.type === T.guard)!;
    expect(urnName(guard.urn)).toBe("protectData");
    const custom = plan.steps.filter((s) => s.newState!.type.startsWith("pulumi-nodejs:dynamic/"));
    expect(custom.length).toBeGreaterThan(20);
    expect(guard.newState!.dependencies).toEqual(expect.arrayContaining(custom.map((s) => s.urn)));
  });

  it("makes the server's first-boot SSH host key, and gives the instance cloud-init only as a secret (it holds that key)", () => {
    const firstBoot = plan.byName("platform-host-key");
    // No server named: cloud-init puts it on whichever server the user data reaches.
    expect(firstBoot.newState!.inputs).toMatchObject({ keyType: "ed25519" });
    expect(firstBoot.newState!.inputs).not.toHaveProperty("server");
    // Known once the key is made: unknown in a preview, then a secret (vultr-program.test.ts reads the state).
    expect(plan.one(T.instance).userData).toBe(UNKNOWN);
    expect(plan.byName("platform-server-instance").newState!.dependencies).toContain(firstBoot.urn);
  });

  it("replaces that key on the running server with one made for it, before any host step, and pins only the new one", () => {
    // One key per server (its instance id), kept only in the state: no user data carries it.
    const pair = plan.byName("platform-server-host-key-pair");
    expect(pair.newState!.inputs).toMatchObject({ keyType: "ed25519", server: UNKNOWN });
    expect(pair.newState!.dependencies).toContain(plan.byName("platform-server-instance").urn);
    const install = plan.byName("platform-server-host-key-install");
    expect(install.newState!.type).toBe(T.hostKeyInstall);
    // The target holds the deploy key and the step the new key's private half: unknown here, secrets once known.
    expect(install.newState!.inputs).toMatchObject({ target: UNKNOWN, step: UNKNOWN, key: UNKNOWN });
    expect(install.newState!.dependencies).toEqual(
      expect.arrayContaining([plan.byName("platform-host-key").urn, pair.urn]),
    );
    // Every host step waits for it: their pin is its output.
    expect(plan.byName("platform-host-wait").newState!.dependencies).toContain(install.urn);
  });

  it("dials SSH only once Vultr's firewall lets the admins reach sshPort", () => {
    const sshRules = plan
      .ofType(T.rule)
      .filter((s) => s.newState!.inputs.port === "22")
      .map((s) => s.urn);
    expect(sshRules).toHaveLength(2);
    for (const name of ["platform-server-host-key-install", "platform-host-wait"]) {
      expect(plan.byName(name).newState!.dependencies, name).toEqual(expect.arrayContaining(sshRules));
    }
  });

  it("puts A and AAAA records for the API host in the zone it creates", () => {
    expect(plan.one(T.zone)).toMatchObject({ domain: "example.com" });
    const records = plan.ofType(T.record).map((s) => s.newState!.inputs);
    expect(records.map((r) => `${r.name} ${r.type} ${r.ttl}`).sort()).toEqual(["api A 300", "api AAAA 300"]);
  });

  it("names resources after fixed logical names, not the host name", () => {
    const names = plan.steps.map((s) => urnName(s.urn));
    expect(names).toContain("platform-server-instance");
    expect(names.filter((n) => n.includes("chat-platform"))).toEqual([]);
  });

  it("warns that alerts reach nobody: the stack sets no alert receiver and no heartbeat URL", () => {
    expect(plan.output).toContain("No alert receiver is set (alertEmailTo, alertWebhookUrl)");
    expect(plan.output).toContain("alertHeartbeatUrl is not set");
  });

  it("runs the host steps in order, and keeps the SSH key and the stack's secrets secret", () => {
    const steps = plan.ofType(T.step).map((s) => urnName(s.urn));
    expect(steps).toEqual(
      ["wait", "bootstrap", "caddy", "release", "stack", "backups", "monitoring", "verify"].map(
        (s) => `platform-host-${s}`,
      ),
    );
    for (const step of plan.ofType(T.step)) {
      const inputs = step.newState!.inputs;
      const name = urnName(step.urn);
      // The target holds the private key: unknown here (it waits for the
      // instance's address) and a secret once known.
      expect(inputs.target, name).toBe(UNKNOWN);
      // The backups step holds the bucket's keys, known once the bucket exists.
      const expected =
        name === "platform-host-stack" ? "[secret]" : name === "platform-host-backups" ? UNKNOWN : "plain";
      expect(inputs.step === "[secret]" || inputs.step === UNKNOWN ? inputs.step : "plain", name).toBe(expected);
    }
    for (const secret of Object.values(REALISTIC_SECRETS)) {
      expect(plan.output.includes(secret.trim().split("\n")[1] ?? secret)).toBe(false);
    }
  });
});

describe("pulumi preview of other shapes", () => {
  it("protects nothing with protectData false, and lets the instance be replaced with allowReplace, warning", async () => {
    const stack = await createStack({
      name: "unprotected",
      config: { ...REALISTIC_CONFIG, protectData: "false", allowReplace: "true" },
      secrets: REALISTIC_SECRETS,
    });
    try {
      const plan = await preview(stack);
      expect(plan.steps.filter((s) => s.newState!.protect).map((s) => urnName(s.urn))).toEqual([]);
      expect(plan.one(T.instance).allowReplace).toBe(true);
      expect(plan.output).toContain("allowReplace is true: a plan that replaces the server");
    } finally {
      await stack.remove();
    }
  }, 600_000);

  it("adopts an existing zone, and leaves out the reserved IP and the bucket when turned off", async () => {
    const stack = await createStack({
      name: "lean",
      config: { ...REALISTIC_CONFIG, createDnsZone: "false", reservedIp: "false", backupsBucket: "false" },
      secrets: REALISTIC_SECRETS,
    });
    try {
      const plan = await preview(stack);
      expect(plan.ofType(T.zone)).toEqual([]);
      expect(plan.ofType(T.reserved)).toEqual([]);
      expect(plan.ofType(T.storage)).toEqual([]);
      expect(plan.one(T.instance).reservedIpId).toBeUndefined();
      expect(plan.ofType(T.record).map((s) => s.newState!.inputs.domain)).toEqual(["example.com", "example.com"]);
    } finally {
      await stack.remove();
    }
  }, 600_000);

  it("plans only the host steps for an existing server", async () => {
    const { region, plan: _plan, hostname, createDnsZone, reservedIp, backupsBucket, ...common } = REALISTIC_CONFIG;
    void [region, _plan, hostname, createDnsZone, reservedIp, backupsBucket];
    const stack = await createStack({
      name: "existing",
      config: { ...common, existingServer: "203.0.113.10" },
      secrets: REALISTIC_SECRETS,
    });
    try {
      const plan = await preview(stack);
      const types = [...new Set(plan.steps.map((s) => s.newState!.type))].sort();
      expect(types).toEqual(
        ["conversational-platform:host:HostConfiguration", "pulumi:pulumi:Stack", T.step, T.knownHost].sort(),
      );
      // No key in the config: learnt from the server on the first up (trust on first use).
      expect(plan.one(T.knownHost)).toMatchObject({ host: "203.0.113.10", port: 22 });
      // The target waits for the learnt key, and is a secret once known.
      for (const step of plan.ofType(T.step)) expect(step.newState!.inputs.target, urnName(step.urn)).toBe(UNKNOWN);
      expect(plan.output).not.toContain(KEYS.privateKey.split("\n")[1]);
    } finally {
      await stack.remove();
    }
  }, 600_000);

  it("pins the key the config gives for an existing server, learning none", async () => {
    const { region, plan: _plan, hostname, createDnsZone, reservedIp, backupsBucket, ...common } = REALISTIC_CONFIG;
    void [region, _plan, hostname, createDnsZone, reservedIp, backupsBucket];
    const hostKey = generateKeyPair().publicKey;
    const stack = await createStack({
      name: "existing-pinned",
      config: { ...common, existingServer: "203.0.113.10", sshHostKey: hostKey },
      secrets: REALISTIC_SECRETS,
    });
    try {
      const plan = await preview(stack);
      expect(plan.ofType(T.knownHost)).toEqual([]);
      // Known here: the target, with the private key, is a secret.
      for (const step of plan.ofType(T.step)) expect(step.newState!.inputs.target, urnName(step.urn)).toBe("[secret]");
      expect(plan.output).not.toContain(KEYS.privateKey.split("\n")[1]);
    } finally {
      await stack.remove();
    }
  }, 600_000);

  it("stops before any resource with a bad config, naming the key and the fix", async () => {
    const stack = await createStack({
      name: "bad",
      config: { ...REALISTIC_CONFIG, adminCidrs: ["2001:db8::7/32"] },
      secrets: REALISTIC_SECRETS,
    });
    try {
      const result = await stack.run(["preview"]);
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toMatch(
        /Config "adminCidrs\[0\]": "2001:db8::7\/32" has host bits set; the network is 2001:db8::\/32 \(for this one address use 2001:db8::7\/128\)/,
      );
      expect(result.stdout).not.toMatch(/platform-server-instance/);
    } finally {
      await stack.remove();
    }
  }, 600_000);
});
