// The policy pack's rules, called directly (building a policy pack object
// starts a gRPC server). The engine runs the pack in program.test.ts and
// policy-pack.test.ts.
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
} from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import {
  instanceHasFirewall,
  noMonitoringPorts,
  noPlaintextCredentials,
  noWorldOpenPorts,
  sshOnlyFromAdmins,
} from "../../infra/policies/rules.js";

// A rule returning a promise could report after its violations are read,
// and a test expecting none would pass without having waited for them.
const SYNC = "a rule decides before it returns";

function violations(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  name = "res",
): string[] {
  const found: string[] = [];
  const validate = policy.validateResource;
  const fns = Array.isArray(validate) ? validate : [validate!];
  const args = { type, props, name, urn: `urn:pulumi:prod::p::${type}::${name}` } as unknown as ResourceValidationArgs;
  const report = (message: string) => void found.push(message);
  for (const fn of fns) expect(fn(args, report), SYNC).toBeUndefined();
  return found;
}

const RULE = "pulumi-nodejs:dynamic/vultr:FirewallRule";
const INSTANCE = "pulumi-nodejs:dynamic/vultr:Instance";
const STEP = "pulumi-nodejs:dynamic/host:Step";
const world = (port: string | undefined, protocol = "tcp", ipType = "v4") => ({
  firewallGroupId: "g",
  ipType,
  protocol,
  port,
  subnet: ipType === "v4" ? "0.0.0.0" : "::",
  subnetSize: 0,
});

describe("firewall policies", () => {
  it.each([
    ["4222", /4222 \(NATS clients\)/],
    ["8222", /8222 \(NATS monitoring\)/],
    ["8080", /8080 \(the API\)/],
    ["1:65535", /22 \(SSH\).*4222/],
    [undefined, /all|1-65535/],
  ])("rejects port %s open to the world", (port, message) => {
    const found = violations(noWorldOpenPorts, RULE, world(port));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it("rejects public NATS on IPv6 and over UDP too", () => {
    expect(violations(noWorldOpenPorts, RULE, world("4222", "tcp", "v6"))).toHaveLength(1);
    expect(violations(noWorldOpenPorts, RULE, world("4222", "udp"))).toHaveLength(1);
  });

  it("accepts 80 and 443 from anywhere, and internal ports from a restricted subnet", () => {
    expect(violations(noWorldOpenPorts, RULE, world("80"))).toEqual([]);
    expect(violations(noWorldOpenPorts, RULE, world("443", "tcp", "v6"))).toEqual([]);
    expect(violations(noWorldOpenPorts, RULE, { ...world("4222"), subnet: "10.0.0.0", subnetSize: 8 })).toEqual([]);
  });
});

describe("the monitoring ports policy", () => {
  const admins = (port: string | undefined, protocol = "tcp") => ({
    ...world(port, protocol),
    subnet: "203.0.113.7",
    subnetSize: 32,
  });

  it.each([
    ["9090", /opens 9090 \(Prometheus\) to 203\.0\.113\.7\/32/],
    ["9093", /9093 \(Alertmanager\)/],
    ["9094", /9094 \(Alertmanager's cluster port\)/],
    ["9100", /9100 \(node_exporter\)/],
    ["9115", /9115 \(the blackbox exporter\)/],
    ["9000:9200", /9090 \(Prometheus\), 9093 .*9115/],
    [undefined, /9090 .*9115/],
  ])("refuses port %s even to the admins, pointing at the SSH tunnel", (port, message) => {
    const found = violations(noMonitoringPorts, RULE, admins(port));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found[0]).toMatch(/SSH tunnel/);
  });

  it("refuses them to the world too, where the world policy also names them", () => {
    expect(violations(noMonitoringPorts, RULE, world("9090"))[0]).toMatch(/to the whole internet/);
    expect(violations(noWorldOpenPorts, RULE, world("9115"))[0]).toMatch(/9115 \(the blackbox exporter\)/);
  });

  it("lets the stack's own rules through: SSH from the admins, 80 and 443, and UDP or ICMP", () => {
    expect(violations(noMonitoringPorts, RULE, admins("22"))).toEqual([]);
    expect(violations(noMonitoringPorts, RULE, world("443"))).toEqual([]);
    expect(violations(noMonitoringPorts, RULE, admins("9090", "udp"))).toEqual([]);
    expect(violations(noMonitoringPorts, RULE, admins(undefined, "icmp"))).toEqual([]);
    expect(violations(noMonitoringPorts, INSTANCE, { port: "9090" })).toEqual([]);
  });
});

/** The SSH policy over a whole stack: its firewall rules and host steps (outputs, as after an update). */
function stackViolations(resources: Array<{ type: string; name: string; props: Record<string, unknown> }>): string[] {
  const found: string[] = [];
  const args = {
    resources: resources.map(
      (r) => ({ ...r, urn: `urn:pulumi:prod::p::${r.type}::${r.name}` }) as unknown as PolicyResource,
    ),
  } as unknown as StackValidationArgs;
  const report = (message: string) => void found.push(message);
  expect(sshOnlyFromAdmins.validateStack(args, report), SYNC).toBeUndefined();
  return found;
}
const rule = (name: string, port: string, subnet = "203.0.113.7", subnetSize = 32) => ({
  type: RULE,
  name,
  props: { ...world(port), subnet, subnetSize },
});
const step = (port: number) => ({
  type: STEP,
  name: "platform-host-bootstrap",
  props: { target: { host: "203.0.113.10", port, user: "deploy", privateKey: "k" }, step: { name: "bootstrap" } },
});

describe("SSH policy: the port the host steps dial (config sshPort)", () => {
  it("rejects SSH open to the world, alone or inside a range", () => {
    expect(stackViolations([rule("ssh", "22", "0.0.0.0", 0)])[0]).toMatch(
      /"ssh" lets anyone on the internet reach SSH \(port 22\).*adminCidrs/,
    );
    expect(stackViolations([rule("range", "20:30", "::", 0), rule("admins", "22")])).toHaveLength(1);
    expect(stackViolations([rule("admins", "22"), rule("web", "443", "0.0.0.0", 0)])).toEqual([]);
  });

  it("follows sshPort: 2222 open to the world is SSH, 22 is then just a port", () => {
    const found = stackViolations([step(2222), rule("admins", "2222"), rule("world", "2222", "0.0.0.0", 0)]);
    expect(found).toEqual([expect.stringMatching(/"world" lets anyone on the internet reach SSH \(port 2222\)/)]);
  });

  it("rejects a firewall that opens SSH to the admins on another port than the steps dial: a lockout", () => {
    const found = stackViolations([step(2222), rule("admins", "22"), rule("web", "443", "0.0.0.0", 0)]);
    expect(found).toEqual([
      expect.stringMatching(
        /No firewall rule lets the admin CIDRs reach SSH on port 2222, where the host steps connect/,
      ),
    ]);
    expect(stackViolations([step(2222), rule("admins", "2222"), rule("web", "443", "0.0.0.0", 0)])).toEqual([]);
  });

  it("asks nothing of a stack without a firewall of its own (an existing server)", () => {
    expect(stackViolations([step(2222)])).toEqual([]);
  });
});

describe("instance policy", () => {
  it("rejects an instance without a firewall group", () => {
    expect(violations(instanceHasFirewall, INSTANCE, { plan: "x" }, "web")[0]).toMatch(
      /Instance "web" has no firewall group/,
    );
    expect(violations(instanceHasFirewall, INSTANCE, { firewallGroupId: "g" })).toEqual([]);
  });
});

describe("credential policy", () => {
  it.each([
    [INSTANCE, { label: "-----BEGIN OPENSSH PRIVATE KEY-----" }, /label.*a private key/],
    [INSTANCE, { tags: ["sk-ant-api03-abcdefghijklmnop"] }, /tags\[0\].*Anthropic API key/],
    [
      STEP,
      { triggers: ["echo JWT_SECRET=supersecretvalue123 >> .env"] },
      /triggers\[0\].*secret assigned in plain text/,
    ],
    [STEP, { triggers: [{ key: "sk-proj-abcdefghijklmnopqrstuvwx" }] }, /triggers\[0\]\.key.*OpenAI API key/],
    [STEP, { triggers: ["NATS_API_PASSWORD=Zk3vQm9ZpL0aBcDeFgHi"] }, /triggers\[0\].*secret assigned in plain text/],
  ])("rejects a credential in %s input", (type, props, message) => {
    const found = violations(noPlaintextCredentials, type, props);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it("allows the SSH key in every host step and the script of the stack step, which are secret in state", () => {
    expect(
      violations(noPlaintextCredentials, STEP, {
        target: { host: "h", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
        step: { name: "stack", script: "NATS_TOKEN=abcdefghijklmnop" },
        triggers: ['echo "JWT_SECRET=$JWT_SECRET" > .env'],
      }),
    ).toEqual([]);
  });

  it("allows the server's host key in an instance's user data, which is secret in state", () => {
    const userData = "#cloud-config\nssh_keys:\n  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n";
    expect(violations(noPlaintextCredentials, INSTANCE, { userData })).toEqual([]);
    // Only there: the same key in the step's target is still reported.
    expect(violations(noPlaintextCredentials, STEP, { target: { userData } })).toHaveLength(1);
  });

  it("allows the SSH key and the script of the host-key step, which are secret in state, and nothing else there", () => {
    const install = "pulumi-nodejs:dynamic/host:HostKeyInstall";
    const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----";
    expect(
      violations(noPlaintextCredentials, install, {
        target: { host: "h", privateKey },
        step: { name: "host-key", script: `HOST_KEY_PRIVATE_B64='...'\n${privateKey}` },
        key: "ssh-ed25519 AAAA",
      }),
    ).toEqual([]);
    const elsewhere = violations(noPlaintextCredentials, install, { firstBootKey: privateKey });
    expect(elsewhere).toHaveLength(1);
    expect(elsewhere[0]).toMatch(/input "firstBootKey" holds a private key/);
  });

  it("reports a credential in the script of any other step, and a key anywhere else in the target", () => {
    const caddy = violations(noPlaintextCredentials, STEP, {
      target: { host: "h", privateKey: "x", note: "-----BEGIN OPENSSH PRIVATE KEY-----" },
      step: { name: "caddy", script: "JWT_SECRET=abcdefghijklmnop" },
    });
    expect(caddy).toHaveLength(2);
    expect(caddy.join("\n")).toMatch(/target\.note.*a private key/);
    expect(caddy.join("\n")).toMatch(/step\.script.*secret assigned in plain text/);
  });
});
