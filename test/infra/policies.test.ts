// The policy pack's rules, called directly (building a policy pack object
// starts a gRPC server). The engine runs the pack in program.test.ts and
// policy-pack.test.ts.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import {
  instanceHasFirewall,
  noPlaintextCredentials,
  noWorldOpenPorts,
  noWorldSsh,
} from "../../infra/policies/rules.js";

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
  for (const fn of fns) void fn(args, (message) => found.push(message));
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

  it("rejects SSH open to the world, alone or inside a range", () => {
    expect(violations(noWorldSsh, RULE, world("22"))[0]).toMatch(/lets anyone on the internet reach SSH.*adminCidrs/);
    expect(violations(noWorldSsh, RULE, world("20:30"))).toHaveLength(1);
    expect(violations(noWorldSsh, RULE, { ...world("22"), subnet: "203.0.113.7", subnetSize: 32 })).toEqual([]);
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
    [INSTANCE, { userData: "#!/bin/sh\necho '-----BEGIN OPENSSH PRIVATE KEY-----' > k" }, /userData.*a private key/],
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
