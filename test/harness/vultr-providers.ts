// Our Vultr providers pointed at a fresh fake Vultr API, with waits short
// enough for a test, and the inputs of a typical instance and load balancer. A test file
// closes the fakes it started with `afterEach(closeFakeVultrs)`.
import { VultrClient } from "../../infra/vultr/client.js";
import type { InstanceInputs } from "../../infra/vultr/instance.js";
import type { LoadBalancerInputs } from "../../infra/vultr/load-balancer.js";
import type { ProviderSettings } from "../../infra/vultr/provider.js";
import { createVultrProviders } from "../../infra/vultr/resources.js";
import { startFakeVultr, type FakeVultr, type FakeVultrOptions } from "./fake-vultr.js";

const running: FakeVultr[] = [];

export async function closeFakeVultrs(): Promise<void> {
  await Promise.all(running.splice(0).map((fake) => fake.close()));
}

/** A fake API and the providers pointed at it, with waits short enough for a test. */
export async function startProviders(options: FakeVultrOptions = {}, settings: Partial<ProviderSettings> = {}) {
  const fake = await startFakeVultr(options);
  running.push(fake);
  const client = () => new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, retryBaseDelayMs: 1 });
  const overrides: Partial<ProviderSettings> = {
    client,
    pollIntervalMs: 5,
    instanceReadyTimeoutMs: 2000,
    objectStorageReadyTimeoutMs: 2000,
    loadBalancerReadyTimeoutMs: 2000,
    vpcReleaseTimeoutMs: 2000,
    reservedIpReleaseTimeoutMs: 2000,
    instanceLockTimeoutMs: 2000,
    maxBackoffMs: 20,
    ...settings,
  };
  return { fake, client: client(), providers: createVultrProviders(overrides), overrides };
}

export function instanceInputs(overrides: Partial<InstanceInputs> = {}): InstanceInputs {
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

/** The message `promise` rejects with; throws if it resolves. */
export async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error("expected a rejection");
}

/** Ours: TCP 80 and 443 passed through to Caddy on every node, health checked on 80. */
export function lbInputs(overrides: Partial<LoadBalancerInputs> = {}): LoadBalancerInputs {
  return {
    region: "ewr",
    label: "chat-lb",
    balancingAlgorithm: "leastconn",
    proxyProtocol: true,
    timeout: 3600,
    healthCheck: {
      protocol: "http",
      port: 80,
      path: "/healthz",
      checkInterval: 5,
      responseTimeout: 3,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    },
    forwardingRules: [
      { frontendProtocol: "tcp", frontendPort: 80, backendProtocol: "tcp", backendPort: 80 },
      { frontendProtocol: "tcp", frontendPort: 443, backendProtocol: "tcp", backendPort: 443 },
    ],
    instanceIds: [],
    ...overrides,
  };
}
