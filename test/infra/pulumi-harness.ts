// Runs the real Pulumi program (infra/index.ts) under Pulumi's mock runtime:
// no CLI, no Vultr API (which cannot be reached or faked from here). Every
// resource registration and invoke is recorded; an invoke the program is not
// expected to make throws, so nothing passes by accident.
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";

interface RegisterRequest {
  getParent(): string;
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** How the SDK marks a secret value on the wire. */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const SIG_KEY = "4dabf18193072939515e22adb298388d";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  id: string;
  parentType?: string;
  parentName?: string;
  /** Names of the resources it explicitly depends on. */
  dependsOn: string[];
  /** Inputs as sent to the engine, with secrets still wrapped. */
  wire: Record<string, unknown>;
}

export const FAKE = {
  osId: 2284,
  clusterId: 2,
  reservedIpv4: "192.0.2.50",
  instanceIpv4: "192.0.2.10",
  instanceIpv6: "2001:db8::10",
  s3Hostname: "ewr1.vultrobjects.com",
  s3AccessKey: "FAKEACCESSKEY",
  s3SecretKey: "fake-secret-key-value",
};

const INVOKES: Record<string, (inputs: any) => Record<string, unknown>> = {
  "vultr:index/getOs:getOs": (inputs) => {
    const name = inputs.filters?.[0]?.values?.[0];
    if (name !== "Ubuntu 24.04 LTS x64") throw new Error(`no OS named ${name}`);
    return { id: String(FAKE.osId), name, arch: "x64", family: "ubuntu" };
  },
  "vultr:index/getObjectStorageCluster:getObjectStorageCluster": (inputs) => ({
    id: String(FAKE.clusterId),
    region: inputs.filters?.[0]?.values?.[0],
    hostname: FAKE.s3Hostname,
    deploy: "yes",
  }),
  "vultr:index/getDnsDomain:getDnsDomain": (inputs) => ({
    id: inputs.domain,
    domain: inputs.domain,
    dateCreated: "2026-01-01",
  }),
};

export interface ProgramRun {
  resources: RecordedResource[];
  invokes: string[];
  outputs: Record<string, unknown>;
  secretOutputs: Set<string>;
  ofType(type: string): RecordedResource[];
  one(type: string): RecordedResource;
}

export async function runProgram(
  config: Record<string, unknown>,
  secretKeys: string[] = SECRET_KEYS,
  stack = "prod",
): Promise<ProgramRun> {
  const resources: RecordedResource[] = [];
  const invokes: string[] = [];
  const byId = new Map<string, RecordedResource>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = `${args.name}-id`;
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "vultr:index/reservedIp:ReservedIp") state.subnet = FAKE.reservedIpv4;
        if (args.type === "vultr:index/instance:Instance") {
          const reserved = args.inputs.reservedIpId ? byId.get(args.inputs.reservedIpId) : undefined;
          state.mainIp = reserved ? FAKE.reservedIpv4 : FAKE.instanceIpv4;
          state.v6MainIp = FAKE.instanceIpv6;
        }
        if (args.type === "vultr:index/objectStorage:ObjectStorage") {
          Object.assign(state, {
            s3Hostname: FAKE.s3Hostname,
            s3AccessKey: FAKE.s3AccessKey,
            s3SecretKey: FAKE.s3SecretKey,
          });
        }
        const recorded: RecordedResource = {
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          id,
          dependsOn: [],
          wire: {},
        };
        byId.set(id, recorded);
        resources.push(recorded);
        return { id, state };
      },
      call(args) {
        invokes.push(args.token);
        const handler = INVOKES[args.token];
        if (!handler) throw new Error(`unexpected invoke ${args.token}(${JSON.stringify(args.inputs)})`);
        return handler(args.inputs);
      },
    },
    "conversational-platform",
    stack,
  );
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    values[`conversational-platform:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  pulumi.runtime.setAllConfig(
    values,
    secretKeys.map((k) => `conversational-platform:${k}`),
  );

  // Record each resource's parent from the registration the SDK sends.
  const parents = new Map<string, { type: string; name: string }>();
  const wire = new Map<string, { dependsOn: string[]; inputs: Record<string, unknown> }>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): void;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    wire.set(`${req.getType()}::${req.getName()}`, {
      dependsOn: req.getDependenciesList().map((urn) => urn.split("::").at(-1)!),
      inputs: req.getObject()?.toJavaScript() ?? {},
    });
    const parentUrn = req.getParent();
    if (parentUrn) {
      const [typeChain = "", name = ""] = parentUrn.split("::").slice(-2);
      parents.set(`${req.getType()}::${req.getName()}`, { type: typeChain.split("$").at(-1)!, name });
    }
    return register(req, cb);
  };

  vi.resetModules();
  const program = (await import("../../infra/index.js")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  const secretOutputs = new Set<string>();
  for (const [key, value] of Object.entries(program)) {
    if (pulumi.Output.isInstance(value)) {
      outputs[key] = await new Promise((resolve) => value.apply(resolve));
      if (await (value as unknown as { isSecret: Promise<boolean> }).isSecret) secretOutputs.add(key);
    } else {
      outputs[key] = value;
    }
  }
  // Let registrations that depend on outputs finish.
  await new Promise((r) => setTimeout(r, 50));
  for (const r of resources) {
    const parent = parents.get(`${r.type}::${r.name}`);
    if (parent) Object.assign(r, { parentType: parent.type, parentName: parent.name });
    const sent = wire.get(`${r.type}::${r.name}`);
    if (sent) Object.assign(r, { dependsOn: sent.dependsOn, wire: sent.inputs });
  }
  return {
    resources,
    invokes,
    outputs,
    secretOutputs,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(type) {
      const found = resources.filter((r) => r.type === type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0]!;
    },
  };
}

export const PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

export const REALISTIC_CONFIG = {
  region: "ewr",
  plan: "vhp-2c-4gb-amd",
  hostname: "chat-platform",
  domain: "example.com",
  apiSubdomain: "api",
  createDnsZone: "true",
  adminCidrs: ["203.0.113.7/32", "2001:db8:1234::/48"],
  sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3 ops@example.com",
  sshPrivateKey: PRIVATE_KEY,
  reservedIp: "true",
  backupsBucket: "true",
  acmeEmail: "ops@example.com",
  natsToken: "nats-token-0123456789abcdef",
  jwtSecret: "jwt-secret-0123456789abcdef0123456789",
  llmApiKey: "sk-ant-api03-test-key-abcdefghijklmnop",
};

export const SECRET_KEYS = ["sshPrivateKey", "natsToken", "jwtSecret", "llmApiKey"];
