// The LoadBalancer provider against the fake Vultr API: the create request
// in Vultr's names and the wait until it is active with its addresses, the
// inputs check, what replaces and what updates, PATCHes that send only what
// changed, drift on refresh, a delete that waits while Vultr still sets the
// balancer up, one balancer per create after a 5xx, and a VPC it holds.
import { afterEach, describe, expect, it, vi } from "vitest";
import { UNKNOWN } from "../../infra/vultr/check.js";
import { sameInput } from "../../infra/providers/diff.js";
import {
  loadBalancerRequest,
  type LoadBalancerInputs,
  type LoadBalancerState,
} from "../../infra/vultr/load-balancer.js";
import { PartialCreateError } from "../../infra/vultr/provider.js";
import { LOAD_BALANCER_NOT_READY, VPC_IN_USE } from "../harness/fake-vultr.js";
import { closeFakeVultrs, instanceInputs, lbInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

type Env = Awaited<ReturnType<typeof startProviders>>;

async function twoNodesInVpc(env: Env) {
  const vpc = await env.providers.Vpc.create({
    region: "ewr",
    description: "nodes",
    v4Subnet: "10.20.0.0",
    v4SubnetMask: 24,
  });
  const node1 = await env.providers.Instance.create(instanceInputs({ hostname: "node-1", vpcId: vpc.id }));
  const node2 = await env.providers.Instance.create(instanceInputs({ hostname: "node-2", vpcId: vpc.id }));
  return { vpc, ids: [node1.id, node2.id] };
}

describe("LoadBalancer", () => {
  it("posts Vultr's fields and waits until it is active with its addresses", async () => {
    const env = await startProviders({ loadBalancerPendingPolls: 3 });
    const { vpc, ids } = await twoNodesInVpc(env);
    const inputs = lbInputs({ instanceIds: ids, vpcId: vpc.id });
    const { id, outs } = await env.providers.LoadBalancer.create(inputs);

    expect(env.fake.requestsTo("POST", "/v2/load-balancers")[0]!.body).toEqual({
      region: "ewr",
      label: "chat-lb",
      balancing_algorithm: "leastconn",
      proxy_protocol: true,
      timeout: 3600,
      health_check: {
        protocol: "http",
        port: 80,
        path: "/healthz",
        check_interval: 5,
        response_timeout: 3,
        unhealthy_threshold: 2,
        healthy_threshold: 2,
      },
      forwarding_rules: [
        { frontend_protocol: "tcp", frontend_port: 80, backend_protocol: "tcp", backend_port: 80 },
        { frontend_protocol: "tcp", frontend_port: 443, backend_protocol: "tcp", backend_port: 443 },
      ],
      instances: ids,
      vpc: vpc.id,
      nodes: 1,
      ssl_redirect: false,
      http2: false,
    });
    // Three GETs: the first two answered pending, the third active.
    expect(env.fake.requestsTo("GET", `/v2/load-balancers/${id}`).map((r) => r.response)).toMatchObject([
      { load_balancer: { status: "pending", ipv4: "" } },
      { load_balancer: { status: "pending" } },
      { load_balancer: { status: "active" } },
    ]);
    expect(outs).toMatchObject({ ...inputs, status: "active", ipv4: "203.0.113.10", ipv6: "2001:db8:1b::a" });
    expect(env.fake.state.loadBalancers.get(id)!.generic_info).toMatchObject({ timeout: 3600, vpc: vpc.id });
  });

  it("leaves empty lists and no VPC out of the create", () => {
    const body = loadBalancerRequest(lbInputs(), "create");
    expect(body).not.toHaveProperty("instances");
    expect(body).not.toHaveProperty("vpc");
    expect(body).not.toHaveProperty("firewall_rules");
  });

  it("checks its inputs, naming each problem and the way out", async () => {
    const { fake, providers } = await startProviders();
    const failures = async (inputs: Partial<LoadBalancerInputs> | Record<string, unknown>) =>
      (await providers.LoadBalancer.check!({}, { ...lbInputs(), ...inputs } as LoadBalancerInputs)).failures;
    expect(await failures({})).toBeUndefined();
    expect(await failures({ timeout: 600_000 })).toEqual([
      { property: "timeout", reason: "must be a whole number of seconds from 1 to 3600, got 600000" },
    ]);
    expect(await failures({ nodes: 2, balancingAlgorithm: "random" as "leastconn" })).toEqual([
      { property: "balancingAlgorithm", reason: 'must be one of "roundrobin", "leastconn"' },
      { property: "nodes", reason: "must be an odd whole number from 1 to 99 (Vultr's range)" },
    ]);
    expect(
      await failures({ healthCheck: { ...lbInputs().healthCheck, port: 0, path: "healthz", checkInterval: 301 } }),
    ).toEqual([
      { property: "healthCheck.port", reason: "must be a port from 1 to 65535" },
      {
        property: "healthCheck.path",
        reason: 'must be a path starting with "/" (Vultr uses it for http and https checks)',
      },
      { property: "healthCheck.checkInterval", reason: "must be a whole number from 1 to 300" },
    ]);
    const tls = await failures({
      forwardingRules: [
        { frontendProtocol: "https", frontendPort: 443, backendProtocol: "tcp", backendPort: 443 },
        { frontendProtocol: "tcp", frontendPort: 443, backendProtocol: "tcp", backendPort: 8443 },
        { frontendProtocol: "tcp", frontendPort: 65301, backendProtocol: "udp" as "tcp", backendPort: 65301 },
      ],
      sslRedirect: true,
    });
    expect(tls).toEqual([
      { property: "sslRedirect", reason: expect.stringContaining("needs a certificate on the load balancer") },
      {
        property: "forwardingRules[0].frontendProtocol",
        reason: expect.stringContaining('"https" needs a certificate'),
      },
      { property: "forwardingRules[1].frontendPort", reason: "443 has a rule already: one rule per frontend port" },
      { property: "forwardingRules[2].backendProtocol", reason: 'must be one of "http", "https", "tcp"' },
      { property: "forwardingRules[2].frontendPort", reason: "65301 is kept by Vultr's load balancer (65300-65310)" },
    ]);
    expect(
      await failures({
        forwardingRules: [],
        firewallRules: [{ port: 443, source: "198.51.100.7", ipType: "v4" }],
        instanceIds: ["a", "a"],
      }),
    ).toEqual([
      { property: "forwardingRules", reason: "must be a list of 1 to 15 rules (Vultr's limit)" },
      {
        property: "firewallRules[0].source",
        reason: 'must be an IPv4 network with its prefix (e.g. "198.51.100.0/24") or "cloudflare"',
      },
      { property: "instanceIds", reason: "names an instance twice" },
    ]);
    // A source is parsed as the admin CIDRs are: host bits and a bad prefix are refused, with the network meant.
    const sources = await failures({
      firewallRules: [
        { port: 443, source: "198.51.100.7/24", ipType: "v4" },
        { port: 443, source: "2001:db8::7/32", ipType: "v6" },
        { port: 443, source: "198.51.100.0/33", ipType: "v4" },
        { port: 443, source: "198.51.100.0/24", ipType: "v6" },
        { port: 443, source: "2001:db8::/32", ipType: "v6" },
      ],
    });
    expect(sources).toEqual([
      {
        property: "firewallRules[0].source",
        reason:
          '"198.51.100.7/24" has host bits set; the network is 198.51.100.0/24 (for this one address use 198.51.100.7/32)',
      },
      {
        property: "firewallRules[1].source",
        reason:
          '"2001:db8::7/32" has host bits set; the network is 2001:db8::/32 (for this one address use 2001:db8::7/128)',
      },
      { property: "firewallRules[2].source", reason: '"198.51.100.0/33" has an invalid prefix length (use 0-32)' },
      {
        property: "firewallRules[3].source",
        reason: 'must be an IPv6 network with its prefix (e.g. "2001:db8::/32") or "cloudflare"',
      },
    ]);
    // Values a preview does not know yet are checked later, not refused.
    expect(await failures({ timeout: UNKNOWN, instanceIds: [UNKNOWN, UNKNOWN], vpcId: UNKNOWN })).toBeUndefined();
    expect(fake.requests).toHaveLength(0);
  });

  it("diffs without calling the API: only the region replaces, order and defaults change nothing", async () => {
    const { fake, providers } = await startProviders();
    const olds: LoadBalancerState = {
      ...lbInputs({ instanceIds: ["i-1", "i-2"] }),
      firewallRules: [],
      vpcId: "",
      nodes: 1,
      sslRedirect: false,
      http2: false,
      ipv4: "203.0.113.10",
      ipv6: "",
      status: "active",
      dateCreated: "",
    };
    const diff = (news: Partial<LoadBalancerInputs>) =>
      providers.LoadBalancer.diff("lb", olds, lbInputs({ instanceIds: ["i-1", "i-2"], ...news }));
    expect(await diff({})).toEqual({ changes: false });
    expect(
      await diff({ instanceIds: ["i-2", "i-1"], forwardingRules: [...lbInputs().forwardingRules].reverse() }),
    ).toEqual({ changes: false });
    expect(await diff({ region: "ams" })).toEqual({ changes: true, replaces: ["region"] });
    expect(await diff({ timeout: 600 })).toEqual({ changes: true });
    expect(await diff({ healthCheck: { ...lbInputs().healthCheck, path: "/" } })).toEqual({ changes: true });
    expect(await diff({ vpcId: "vpc-1", instanceIds: ["i-1"] })).toEqual({ changes: true });
    expect(fake.requests).toHaveLength(0);
  });

  it("compares objects by their fields, whatever their order", () => {
    expect(sameInput({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    expect(sameInput({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameInput([{ p: 80 }, { p: 443 }], [{ p: 443 }, { p: 80 }], true)).toBe(true);
    expect(sameInput([{ p: 80 }, { p: 443 }], [{ p: 443 }, { p: 80 }])).toBe(false);
    expect(sameInput(["a", "b"], ["b", "a"], true)).toBe(true);
  });

  it("PATCHes only what changed, and an empty list or no VPC clears what was there", async () => {
    const env = await startProviders();
    const { vpc, ids } = await twoNodesInVpc(env);
    const inputs = lbInputs({
      instanceIds: ids,
      vpcId: vpc.id,
      firewallRules: [{ port: 443, source: "198.51.100.0/24", ipType: "v4" }],
    });
    const { id, outs } = await env.providers.LoadBalancer.create(inputs);

    const first = await env.providers.LoadBalancer.update!(id, outs, {
      ...inputs,
      timeout: 1800,
      instanceIds: [ids[1]!],
    });
    const second = await env.providers.LoadBalancer.update!(id, first.outs, {
      ...inputs,
      timeout: 1800,
      instanceIds: [ids[1]!],
      firewallRules: [],
      vpcId: "",
    });
    expect(env.fake.requestsTo("PATCH", `/v2/load-balancers/${id}`).map((r) => [r.status, r.body])).toEqual([
      [204, { timeout: 1800, instances: [ids[1]] }],
      [204, { firewall_rules: [], vpc: "" }],
    ]);
    const lb = env.fake.state.loadBalancers.get(id)!;
    expect(lb.instances).toEqual([ids[1]]);
    expect(lb.firewall_rules).toEqual([]);
    expect(lb.generic_info).toMatchObject({ timeout: 1800, vpc: "" });
    expect(second.outs).toMatchObject({ status: "active", ipv4: outs.ipv4, vpcId: "", firewallRules: [] });
  });

  it("refreshes what changed outside Pulumi, and keeps the state's order of the same lists", async () => {
    const env = await startProviders();
    const { ids } = await twoNodesInVpc(env);
    const { id, outs } = await env.providers.LoadBalancer.create(lbInputs({ instanceIds: ids }));
    const lb = env.fake.state.loadBalancers.get(id)!;
    lb.instances = [...ids].reverse();
    lb.forwarding_rules = [...lb.forwarding_rules].reverse().map((r) => ({ ...r, frontend_protocol: "TCP" }));
    expect((await env.providers.LoadBalancer.read!(id, outs)).props).toEqual(outs);

    lb.label = "renamed";
    lb.generic_info = { ...lb.generic_info, timeout: 600 };
    const { props } = await env.providers.LoadBalancer.read!(id, outs);
    expect(props).toMatchObject({ label: "renamed", timeout: 600, instanceIds: ids });
    expect(await env.providers.LoadBalancer.diff(id, props, lbInputs({ instanceIds: ids }))).toEqual({ changes: true });

    await env.providers.LoadBalancer.delete(id, props);
    expect((await env.providers.LoadBalancer.read!(id, props)).id).toBe("");
  });

  it("stops sending to a node that is deleted", async () => {
    const env = await startProviders();
    const { ids } = await twoNodesInVpc(env);
    const { id } = await env.providers.LoadBalancer.create(lbInputs({ instanceIds: ids }));
    await env.providers.Instance.delete(ids[0]!, {} as never);
    expect(env.fake.state.loadBalancers.get(id)!.instances).toEqual([ids[1]]);
  });
});

describe("a load balancer Vultr is still setting up", () => {
  it("is created, recorded in state, and reported when it never turns active", async () => {
    const { fake, providers } = await startProviders(
      { loadBalancerPendingPolls: 1_000 },
      { loadBalancerReadyTimeoutMs: 40 },
    );
    const error = await providers.LoadBalancer.create(lbInputs()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialCreateError);
    const [id] = [...fake.state.loadBalancers.keys()];
    expect((error as PartialCreateError).id).toBe(id);
    expect((error as Error).message).toContain(`Load balancer ${id} was created but is not active`);
    expect((error as Error).message).toContain("last seen: status pending, ipv4 none");
    expect((error as PartialCreateError).properties).toMatchObject({ status: "pending", label: "chat-lb" });
  });

  it("is deleted once it is ready, trying again while Vultr says it is not", async () => {
    const { fake, providers, client } = await startProviders({ loadBalancerPendingPolls: 3 });
    const { load_balancer: lb } = await client.post<{ load_balancer: { id: string } }>("/v2/load-balancers", {
      region: "ewr",
      label: "young",
    });
    const path = `/v2/load-balancers/${lb.id}`;
    const deleting = providers.LoadBalancer.delete(lb.id, {} as never);
    // Refused while pending, and tried again: then three GETs make it active.
    await vi.waitFor(() => expect(fake.requestsTo("DELETE", path).length).toBeGreaterThanOrEqual(3), {
      timeout: 1500,
    });
    for (let i = 0; i < 3; i++) await client.get(path);
    await deleting;
    const deletes = fake.requestsTo("DELETE", path);
    expect(deletes.at(-1)!.status).toBe(204);
    expect(deletes.slice(0, -1).map((r) => r.response)).toEqual(
      Array<unknown>(deletes.length - 1).fill({ error: LOAD_BALANCER_NOT_READY, status: 400 }),
    );
    expect(fake.state.loadBalancers.size).toBe(0);
  });

  it("stops waiting at the bound with an error that says what to do", async () => {
    const { fake, providers, client } = await startProviders(
      { loadBalancerPendingPolls: 1_000 },
      { loadBalancerReadyTimeoutMs: 40 },
    );
    const { load_balancer: lb } = await client.post<{ load_balancer: { id: string } }>("/v2/load-balancers", {
      region: "ewr",
    });
    const message = await messageOf(providers.LoadBalancer.delete(lb.id, {} as never));
    expect(message).toContain(`Load balancer ${lb.id} was still being set up after 40 ms`);
    expect(message).toContain("VULTR_WAIT_TIMEOUT_MS");
    expect(message).toContain(LOAD_BALANCER_NOT_READY);
    expect(fake.state.loadBalancers.size).toBe(1);
  });
});

describe("a load balancer create that met a 5xx", () => {
  it("leaves exactly one load balancer, found among the others page by page", async () => {
    const { fake, providers } = await startProviders({}, { perPage: 1 });
    await providers.LoadBalancer.create(lbInputs({ label: "another" }));
    fake.inject({ status: 502, method: "POST", path: "/v2/load-balancers", afterHandling: true });
    const { id, outs } = await providers.LoadBalancer.create(lbInputs());
    expect(fake.requestsTo("POST", "/v2/load-balancers")).toHaveLength(2);
    expect(fake.state.loadBalancers.size).toBe(2);
    expect(fake.state.loadBalancers.get(id)!.label).toBe("chat-lb");
    expect(outs.status).toBe("active");
    expect(fake.requestsTo("GET", "/v2/load-balancers").some((r) => r.query.cursor !== undefined)).toBe(true);
  });
});

describe("a load balancer in a VPC", () => {
  it("holds the VPC: it is deleted first, then the VPC", async () => {
    const env = await startProviders({}, { vpcReleaseTimeoutMs: 50 });
    const { vpc, ids } = await twoNodesInVpc(env);
    const lb = await env.providers.LoadBalancer.create(lbInputs({ vpcId: vpc.id }));
    for (const id of ids) await env.providers.Instance.delete(id, {} as never);
    expect(await messageOf(env.providers.Vpc.delete(vpc.id, vpc.outs))).toContain(VPC_IN_USE);
    await env.providers.LoadBalancer.delete(lb.id, lb.outs);
    await env.providers.Vpc.delete(vpc.id, vpc.outs);
    expect(env.fake.state.vpcs.size).toBe(0);
  });

  it("is refused a VPC of another region by Vultr", async () => {
    const { client } = await startProviders();
    const { vpc } = await client.post<{ vpc: { id: string } }>("/v2/vpcs", { region: "ams" });
    const refused = await client.post("/v2/load-balancers", { region: "ewr", vpc: vpc.id }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, vultrMessage: "VPC is not in the load balancer's region" });
  });
});

// The fake's own refusals, which the check above keeps a stack from meeting.
describe("the fake's load balancer", () => {
  it("refuses what Vultr refuses", async () => {
    const { fake, client } = await startProviders();
    const refusal = (body: Record<string, unknown>) =>
      client
        .post("/v2/load-balancers", { region: "ewr", ...body })
        .catch((e: unknown) => (e as { vultrMessage: string }).vultrMessage);
    expect(await refusal({ nodes: 2 })).toBe("The number of nodes must be an odd number from 1 to 99");
    expect(await refusal({ http2: true })).toBe("HTTP2 requires an HTTPS forwarding rule and an SSL certificate");
    expect(
      await refusal({
        forwarding_rules: [
          { frontend_protocol: "https", frontend_port: 443, backend_protocol: "tcp", backend_port: 443 },
        ],
      }),
    ).toBe("An HTTPS forwarding rule requires an SSL certificate");
    expect(await refusal({ instances: ["missing"] })).toBe("Invalid instance: missing");
    expect(await refusal({ timeout: 0 })).toBe("Invalid timeout");
    expect(await refusal({ idle_timeout: 60 })).toBe(
      'Invalid request: "idle_timeout" is not a field of POST /v2/load-balancers',
    );
    expect(fake.state.loadBalancers.size).toBe(0);
  });
});
