// The real Pulumi program under mocks, with a realistic production config:
// the security-relevant properties of every resource.
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE, REALISTIC_CONFIG, runProgram, type ProgramRun } from "./pulumi-harness.js";

const T = {
  key: "vultr:index/sSHKey:SSHKey",
  group: "vultr:index/firewallGroup:FirewallGroup",
  rule: "vultr:index/firewallRule:FirewallRule",
  instance: "vultr:index/instance:Instance",
  reserved: "vultr:index/reservedIp:ReservedIp",
  zone: "vultr:index/dnsDomain:DnsDomain",
  record: "vultr:index/dnsRecord:DnsRecord",
  storage: "vultr:index/objectStorage:ObjectStorage",
};

describe("the production program", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(REALISTIC_CONFIG);
  });

  it("declares exactly these resources", () => {
    expect(run.resources.map((r) => r.type).sort()).toEqual(
      [
        "conversational-platform:network:Firewall",
        "conversational-platform:compute:Server",
        "conversational-platform:network:Dns",
        "conversational-platform:storage:BackupBucket",
        "conversational-platform:host:HostConfiguration",
        ...Array(6).fill("command:remote:Command"),
        "command:remote:CopyToRemote",
        T.group,
        ...Array(6).fill(T.rule),
        T.key,
        T.reserved,
        T.instance,
        T.zone,
        T.record,
        T.record,
        T.storage,
      ].sort(),
    );
  });

  it("opens SSH to the admin CIDRs only, HTTP and HTTPS to all, on v4 and v6, and nothing else", () => {
    const group = run.one(T.group);
    const rules = run.ofType(T.rule);
    for (const rule of rules) expect(rule.inputs.firewallGroupId).toBe(group.id);
    expect(
      rules
        .map(
          (r) => `${r.inputs.ipType} ${r.inputs.protocol} ${r.inputs.port} ${r.inputs.subnet}/${r.inputs.subnetSize}`,
        )
        .sort(),
    ).toEqual(
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

  it("creates the instance with IPv6, no Vultr backups, no activation e-mail, the firewall, the key and the reserved IP", () => {
    const instance = run.one(T.instance);
    expect(instance.inputs).toMatchObject({
      region: "ewr",
      plan: "vhp-2c-4gb-amd",
      osId: FAKE.osId,
      hostname: "chat-platform",
      enableIpv6: true,
      backups: "disabled",
      activationEmail: false,
      firewallGroupId: run.one(T.group).id,
      sshKeyIds: [run.one(T.key).id],
      reservedIpId: run.one(T.reserved).id,
      tags: ["conversational-platform", "stack-prod"],
    });
    expect(run.one(T.key).inputs.sshKey).toBe(REALISTIC_CONFIG.sshPublicKey);
    expect(run.one(T.reserved).inputs).toMatchObject({ region: "ewr", ipType: "v4" });
    expect(run.invokes).toContain("vultr:index/getOs:getOs");
  });

  it("points A at the reserved IPv4 and AAAA at the instance's IPv6, in the zone it creates", () => {
    expect(run.one(T.zone).inputs.domain).toBe("example.com");
    const records = run.ofType(T.record).map((r) => r.inputs);
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ domain: "example.com", name: "api", type: "A", data: FAKE.reservedIpv4, ttl: 300 }),
        expect.objectContaining({
          domain: "example.com",
          name: "api",
          type: "AAAA",
          data: FAKE.instanceIpv6,
          ttl: 300,
        }),
      ]),
    );
  });

  it("exports what users and the ops scripts need, with credentials as secrets", () => {
    expect(run.outputs).toMatchObject({
      ipv4: FAKE.reservedIpv4,
      ipv6: FAKE.instanceIpv6,
      apiUrl: "https://api.example.com",
      sshCommand: `ssh deploy@${FAKE.reservedIpv4}`,
      backupEndpoint: `https://${FAKE.s3Hostname}`,
      backupBucket: "chat-platform-prod-backups",
      backupAccessKey: FAKE.s3AccessKey,
      backupSecretKey: FAKE.s3SecretKey,
    });
    expect([...run.secretOutputs].sort()).toEqual(["backupAccessKey", "backupSecretKey"]);
    expect(run.one(T.storage).inputs.clusterId).toBe(FAKE.clusterId);
  });

  it("parents every child to its component and names it after the component", () => {
    const children = run.resources.filter((r) => r.type.startsWith("vultr:"));
    for (const child of children) {
      expect(child.parentType, child.name).toMatch(/^conversational-platform:/);
      expect(child.name.startsWith(`${child.parentName}-`), `${child.name} under ${child.parentName}`).toBe(true);
    }
  });
});

describe("variants", () => {
  it("adopts an existing zone, and skips the reserved IP and the bucket when turned off", async () => {
    const run = await runProgram({
      ...REALISTIC_CONFIG,
      createDnsZone: "false",
      reservedIp: "false",
      backupsBucket: "false",
    });
    expect(run.ofType(T.zone)).toEqual([]);
    expect(run.ofType(T.reserved)).toEqual([]);
    expect(run.ofType(T.storage)).toEqual([]);
    expect(run.invokes).toContain("vultr:index/getDnsDomain:getDnsDomain");
    expect(run.one(T.instance).inputs.reservedIpId).toBeUndefined();
    const a = run.ofType(T.record).find((r) => r.inputs.type === "A")!;
    expect(a.inputs.data).toBe(FAKE.instanceIpv4);
    expect(run.outputs.backupEndpoint).toBeUndefined();
  });

  it("stops before declaring any resource when the config is invalid", async () => {
    await expect(runProgram({ ...REALISTIC_CONFIG, adminCidrs: ["0.0.0.0/0"] })).rejects.toThrow(
      /Config "adminCidrs\[0\]": "0.0.0.0\/0" would open SSH to the whole internet/,
    );
  });

  it("refuses a private key stored in plaintext", async () => {
    await expect(runProgram(REALISTIC_CONFIG, ["natsToken", "jwtSecret", "llmApiKey"])).rejects.toThrow(
      /sshPrivateKey.*plaintext.*pulumi config set --secret/,
    );
  });
});
