// The load balancer stand-in: the haproxy.cfg rendered from a load balancer
// as the Vultr API keeps it (checked by haproxy -c, and refused clearly where
// the stand-in cannot run it), then real HAProxy proxies that the fake Vultr
// API runs for the balancers our LoadBalancer provider creates, in front of
// two small HTTP nodes on loopback: round robin over both, a node failing
// its health path taken out after the thresholds and put back after it
// recovers, the PROXY header with the client's address (or none), a stream
// with keepalives outliving the idle timeout that closes an idle connection,
// a PATCH reloading without dropping an open stream, and a DELETE stopping
// it. Every wait polls for a state with a bound.
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ApiLoadBalancer } from "../../infra/vultr/api-types.js";
import type { LoadBalancerInputs } from "../../infra/vultr/load-balancer.js";
import {
  LoadBalancerProxyError,
  readHaproxyTemplates,
  renderHaproxyConfig,
  type HaproxyConfigInput,
} from "../../scripts/loopback/haproxy-config.js";
import {
  checkHaproxyConfig,
  HaproxyConfigRefused,
  haproxyScratch,
  startHaproxy,
} from "../../scripts/loopback/haproxy.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import type { RunningLoadBalancerProxy } from "../harness/fake-vultr/load-balancer-proxies.js";
import { HEALTH_PATH, startLoadBalancerNode, type LoadBalancerNode } from "../harness/load-balancer-node.js";
import { tcpProbe } from "../harness/tcp-probe.js";
import { until } from "../harness/until.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

const templates = readHaproxyTemplates();
// Made in beforeAll, not on import: afterAll, which removes it, does not run
// when a filter leaves none of this file's tests.
let scratch: ReturnType<typeof scratchDir>;
beforeAll(() => {
  scratch = scratchDir("lb-proxy-test");
});
afterAll(() => scratch.remove());

/** A load balancer as the fake keeps it: TCP 80 to 80 on two instances, checked on /healthz. */
function apiLoadBalancer(overrides: Partial<ApiLoadBalancer> = {}): ApiLoadBalancer {
  return {
    id: "6f6a1d52-0d0c-4b1e-9a53-3a7c1f0e2b11",
    date_created: "2026-12-07T16:00:00+00:00",
    region: "ewr",
    label: "chat-lb",
    status: "active",
    ipv4: "127.0.1.10",
    ipv6: "",
    nodes: 1,
    instances: ["node-a", "node-b"],
    health_check: {
      protocol: "http",
      port: 80,
      path: "/healthz",
      check_interval: 3,
      response_timeout: 2,
      unhealthy_threshold: 4,
      healthy_threshold: 5,
    },
    generic_info: {
      balancing_algorithm: "leastconn",
      proxy_protocol: true,
      timeout: 600,
      ssl_redirect: false,
      vpc: "",
    },
    forwarding_rules: [{ frontend_protocol: "tcp", frontend_port: 80, backend_protocol: "tcp", backend_port: 80 }],
    ...overrides,
  };
}

function configInput(overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return {
    loadBalancer: apiLoadBalancer(),
    nodes: {
      "node-a": { host: "127.0.0.1", ports: { 80: 41001, 443: 41002, 8080: 41003 } },
      "node-b": { host: "127.0.0.1", ports: { 80: 42001, 443: 42002, 8080: 42003 } },
    },
    listenAddress: "127.0.1.10",
    frontendPorts: { 80: 43080, 443: 43443 },
    adminSocket: join(scratch.path, "admin.sock"),
    ...overrides,
  };
}

/** The lines of a rendered config that are not comments or blank. */
const directives = (config: string) =>
  config
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));

/** Writes a config and runs haproxy -c on it. */
function check(config: string, name = "haproxy.cfg"): void {
  const path = join(scratch.path, name);
  writeFileSync(path, config);
  checkHaproxyConfig(path);
}

describe("the haproxy.cfg of a load balancer", () => {
  it("forwards each TCP rule to every instance with the balancer's check, algorithm, PROXY header and timeout", () => {
    const config = renderHaproxyConfig(templates, configInput());
    expect(directives(config)).toEqual([
      "global",
      `stats socket ${join(scratch.path, "admin.sock")} mode 600 level admin`,
      "defaults",
      "mode tcp",
      "timeout client 600s",
      "timeout server 600s",
      "timeout connect 5s",
      "frontend rule-80",
      "bind 127.0.1.10:43080",
      "default_backend nodes-80",
      "backend nodes-80",
      "balance leastconn",
      "option httpchk GET /healthz",
      "timeout check 2s",
      "default-server check inter 3s fall 4 rise 5 send-proxy check-send-proxy",
      "server node-a 127.0.0.1:41001 port 41001",
      "server node-b 127.0.0.1:42001 port 42001",
    ]);
    expect(config.split("\n")[0]).toMatch(/^# Rendered by scripts\/loopback\/haproxy-config\.ts/);
    check(config);
  });

  it("checks over TCP, sends no PROXY header when off, and plain checks to a port no rule forwards to", () => {
    const lb = apiLoadBalancer({
      health_check: {
        protocol: "tcp",
        port: 8080,
        check_interval: 1,
        response_timeout: 1,
        unhealthy_threshold: 1,
        healthy_threshold: 1,
      },
      generic_info: { balancing_algorithm: "roundrobin", proxy_protocol: false, timeout: 1 },
      forwarding_rules: [
        { frontend_protocol: "tcp", frontend_port: 80, backend_protocol: "tcp", backend_port: 80 },
        { frontend_protocol: "tcp", frontend_port: 443, backend_protocol: "tcp", backend_port: 443 },
      ],
    });
    const config = renderHaproxyConfig(templates, configInput({ loadBalancer: lb }));
    const lines = directives(config);
    expect(lines.filter((l) => /^(bind|balance|option|default-server|server|timeout (client|check))/.test(l))).toEqual([
      "timeout client 1s",
      "bind 127.0.1.10:43080",
      "balance roundrobin",
      "option tcp-check",
      "timeout check 1s",
      "default-server check inter 1s fall 1 rise 1",
      "server node-a 127.0.0.1:41001 port 41003",
      "server node-b 127.0.0.1:42001 port 42003",
      "bind 127.0.1.10:43443",
      "balance roundrobin",
      "option tcp-check",
      "timeout check 1s",
      "default-server check inter 1s fall 1 rise 1",
      "server node-a 127.0.0.1:41002 port 41003",
      "server node-b 127.0.0.1:42002 port 42003",
    ]);
    check(config);

    // The PROXY header on, the check port a plain one: the connections get it, the checks do not.
    const proxied = apiLoadBalancer({ health_check: { ...lb.health_check!, port: 8080 } });
    expect(directives(renderHaproxyConfig(templates, configInput({ loadBalancer: proxied })))).toContain(
      "default-server check inter 1s fall 1 rise 1 send-proxy",
    );
  });

  it("checks https health paths over TLS, without verifying the node's certificate", () => {
    const lb = apiLoadBalancer({ health_check: { ...apiLoadBalancer().health_check!, protocol: "https", port: 443 } });
    const config = renderHaproxyConfig(templates, configInput({ loadBalancer: lb }));
    expect(directives(config)).toContain(
      "default-server check inter 3s fall 4 rise 5 send-proxy check-ssl verify none",
    );
    check(config);
  });

  it("refuses what the stand-in cannot run, naming the field and the way out", () => {
    const refusal = (input: Partial<HaproxyConfigInput>) => {
      try {
        renderHaproxyConfig(templates, configInput(input));
      } catch (error) {
        expect(error).toBeInstanceOf(LoadBalancerProxyError);
        return (error as Error).message;
      }
      throw new Error("rendered");
    };
    const id = apiLoadBalancer().id;
    expect(
      refusal({
        loadBalancer: apiLoadBalancer({
          forwarding_rules: [
            { frontend_protocol: "http", frontend_port: 80, backend_protocol: "http", backend_port: 80 },
          ],
        }),
      }),
    ).toBe(
      `load balancer ${id}: forwarding rule 1 (http 80 -> http 80): the stand-in forwards TCP only, as the ` +
        "platform's load balancer passes TLS through to the nodes' Caddy; use frontend_protocol and " +
        'backend_protocol "tcp"',
    );
    expect(refusal({ nodes: { "node-a": configInput().nodes["node-a"]! } })).toBe(
      `load balancer ${id}: instance node-b has no address on this machine: give it in nodes`,
    );
    expect(refusal({ nodes: { ...configInput().nodes, "node-b": { host: "127.0.0.1", ports: {} } } })).toBe(
      `load balancer ${id}: instance node-b has no port here for its backend port 80 (nodes["node-b"].ports[80])`,
    );
    const rule = { frontend_protocol: "tcp", frontend_port: 80, backend_protocol: "tcp", backend_port: 80 };
    expect(
      refusal({ loadBalancer: apiLoadBalancer({ forwarding_rules: [rule, { ...rule, backend_port: 8080 }] }) }),
    ).toBe(`load balancer ${id}: forwarding rule 2: frontend port 80 has a rule already: one rule per port`);
    expect(refusal({ frontendPorts: {} })).toBe(
      `load balancer ${id}: forwarding rule 1: frontend port 80 has no port to listen on here (frontendPorts)`,
    );
    expect(
      refusal({
        loadBalancer: apiLoadBalancer({ health_check: { ...apiLoadBalancer().health_check!, path: "/a b#c" } }),
      }),
    ).toBe(
      `load balancer ${id}: health_check.path "/a b#c" must start with "/" and hold only letters, digits and ._~%/?=&+-`,
    );
    expect(refusal({ loadBalancer: apiLoadBalancer({ generic_info: { timeout: 0 } }) })).toBe(
      `load balancer ${id}: timeout 0 is not a whole number from 1 up`,
    );
    expect(refusal({ loadBalancer: apiLoadBalancer({ forwarding_rules: [] }) })).toBe(
      `load balancer ${id}: forwarding_rules is empty: there is nothing to listen on; give it a tcp rule`,
    );
    expect(refusal({ listenAddress: "203.0.113.10" })).toBe(
      `load balancer ${id}: listen address "203.0.113.10" is not a loopback IPv4 address (127.0.0.0/8)`,
    );
  });

  it("a broken config is refused by haproxy -c with HAProxy's reason, before any proxy runs it", async () => {
    const broken = renderHaproxyConfig(templates, configInput()).replace("balance leastconn", "balance fastest");
    let refused: unknown;
    try {
      check(broken, "broken.cfg");
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(HaproxyConfigRefused);
    expect((refused as Error).message).toMatch(/^haproxy -c refused .*broken\.cfg:\n/);
    expect((refused as Error).message).toMatch(/balance only supports 'roundrobin'/);

    const files = haproxyScratch();
    await expect(startHaproxy(broken, files)).rejects.toThrow(/balance only supports 'roundrobin'/);
    expect(existsSync(files.dir)).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// Real proxies run by the fake Vultr API, created through our provider.

let nodes: LoadBalancerNode[] = [];
beforeAll(async () => {
  nodes = [await startLoadBalancerNode("node-1"), await startLoadBalancerNode("node-2")];
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
});
afterEach(async () => {
  await closeFakeVultrs();
  for (const node of nodes) {
    node.setHealthy(true);
    node.requests.length = 0;
  }
});

/** The fake with proxies on, the two nodes as its instances (by hostname), and a balancer over both. */
async function balancerOverBothNodes(overrides: Partial<LoadBalancerInputs> = {}) {
  const env = await startProviders({
    loadBalancerPendingPolls: 1,
    loadBalancerProxies: {
      node: (instance) => {
        const node = nodes.find((n) => n.name === instance.hostname);
        if (!node) throw new Error(`no node stand-in for ${instance.hostname}`);
        return { host: node.host, ports: { 80: node.port } };
      },
    },
  });
  const ids: string[] = [];
  for (const node of nodes) ids.push((await env.providers.Instance.create(instanceInputs({ hostname: node.name }))).id);
  const inputs: LoadBalancerInputs = {
    region: "ewr",
    label: "chat-lb",
    balancingAlgorithm: "roundrobin",
    proxyProtocol: false,
    timeout: 600,
    // Short, and still what the provider's check allows (1 second at least).
    healthCheck: {
      protocol: "http",
      port: 80,
      path: HEALTH_PATH,
      checkInterval: 1,
      responseTimeout: 1,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    },
    forwardingRules: [{ frontendProtocol: "tcp", frontendPort: 80, backendProtocol: "tcp", backendPort: 80 }],
    instanceIds: ids,
    ...overrides,
  };
  expect((await env.providers.LoadBalancer.check!({}, inputs)).failures).toBeUndefined();
  const { id, outs } = await env.providers.LoadBalancer.create(inputs);
  const proxy = env.fake.loadBalancerProxy(id)!;
  expect(proxy.address).toBe(outs.ipv4);
  const byName = (name: string) => ids[nodes.findIndex((n) => n.name === name)]!;
  return { ...env, id, ids, byName, inputs, outs, proxy, port: proxy.ports[80]! };
}

/** One request over a new connection (round robin counts connections): the node's answer. */
function get(host: string, port: number, path = "/"): Promise<{ node: string; proxy: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(JSON.parse(body) as { node: string; proxy: string | null }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function nodesServing(host: string, port: number, count: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) answers.push((await get(host, port)).node);
  return answers;
}

/**
 * Each server of the backend of frontend port 80 and its state, from
 * HAProxy's runtime API: "UP" (every recent check passed), "UP 1/2" (up, one
 * failed check of the two that take it out), "DOWN", "DOWN 1/2".
 */
async function serverStates(proxy: RunningLoadBalancerProxy): Promise<Record<string, string>> {
  const csv = await proxy.haproxy.command("show stat");
  const [header, ...rows] = csv.trim().split("\n");
  const names = header!.replace(/^# /, "").split(",");
  const at = (name: string) => names.indexOf(name);
  const states: Record<string, string> = {};
  for (const row of rows.map((line) => line.split(","))) {
    if (row[at("pxname")] === "nodes-80" && row[at("svname")] !== "BACKEND") {
      states[row[at("svname")]!] = row[at("status")]!;
    }
  }
  return states;
}

/** An open GET /stream through the balancer: the node that serves it, the keepalives so far, and whether it closed. */
async function openStream(host: string, port: number) {
  const stream = { node: "", keepalives: 0, closed: false, close: () => {} };
  await new Promise<void>((resolve, reject) => {
    const req = request({ host, port, path: "/stream", agent: false }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const first = /^data: (\S+)/m.exec(chunk);
        if (first && !stream.node) {
          stream.node = first[1]!;
          resolve();
        }
        stream.keepalives += chunk.split(": keepalive").length - 1;
      });
      res.on("close", () => (stream.closed = true));
      res.on("error", () => (stream.closed = true));
    });
    req.on("error", reject);
    req.end();
    stream.close = () => req.destroy();
  });
  return stream;
}

describe("the fake's load balancers as real proxies", () => {
  it("listens on the balancer's address and sends connections to both instances in turn", async () => {
    const { proxy, port, outs } = await balancerOverBothNodes();
    expect(outs.ipv4).toMatch(/^127\.0\.1\.\d+$/);
    await until("both nodes up", async () => Object.values(await serverStates(proxy)).join() === "UP,UP");
    const answers = await nodesServing(outs.ipv4, port, 6);
    expect(answers.filter((n) => n === "node-1")).toHaveLength(3);
    expect(answers.filter((n) => n === "node-2")).toHaveLength(3);
    // In turn: never the same node twice in a row.
    expect(answers.every((node, i) => i === 0 || node !== answers[i - 1])).toBe(true);
  });

  it("takes a node failing its health path out after unhealthy_threshold checks, and back after healthy_threshold", async () => {
    const { proxy, port, outs, byName } = await balancerOverBothNodes();
    const [, node2] = nodes as [LoadBalancerNode, LoadBalancerNode];
    await until("both nodes up", async () => Object.values(await serverStates(proxy)).join() === "UP,UP");

    node2.setHealthy(false);
    const failedBefore = node2.checks.failed;
    await until("node-2 down", async () => (await serverStates(proxy))[byName("node-2")] === "DOWN");
    // Two failed checks in a row (unhealthyThreshold), not one.
    expect(node2.checks.failed - failedBefore).toBeGreaterThanOrEqual(2);
    expect(await nodesServing(outs.ipv4, port, 6)).toEqual(Array(6).fill("node-1"));

    node2.setHealthy(true);
    const passedBefore = node2.checks.passed;
    // Up again (HAProxy shows "UP 1/2" until it has passed as many checks as take it out).
    await until("node-2 up again", async () => /^UP/.test((await serverStates(proxy))[byName("node-2")] ?? ""));
    expect(node2.checks.passed - passedBefore).toBeGreaterThanOrEqual(2);
    expect(await nodesServing(outs.ipv4, port, 4)).toContain("node-2");
  });

  it("sends a PROXY v1 header with the client's address when proxyProtocol is on, and none when it is off", async () => {
    const on = await balancerOverBothNodes({ proxyProtocol: true });
    // The checks of the forwarded port carry the header too: the nodes stay up.
    await until("both nodes up", async () => Object.values(await serverStates(on.proxy)).join() === "UP,UP");
    // The client on a loopback address of its own, so its address is not the proxy's.
    const socket: Socket = await new Promise((resolve) => {
      const s = connect({ host: on.outs.ipv4, port: on.port, localAddress: "127.0.0.77" }, () => resolve(s));
    });
    const client = `${socket.localAddress} ${on.outs.ipv4} ${socket.localPort} ${on.port}`;
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("end", () => resolve(text));
      socket.end("GET /whoami HTTP/1.0\r\n\r\n");
    });
    const { proxy } = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { proxy: string };
    expect(proxy).toBe(`PROXY TCP4 ${client}`);
    expect(client).toMatch(/^127\.0\.0\.77 127\.0\.1\.\d+ \d+ \d+$/);
    await closeFakeVultrs();

    const off = await balancerOverBothNodes({ proxyProtocol: false });
    expect((await get(off.outs.ipv4, off.port, "/whoami")).proxy).toBeNull();
  });

  it("keeps a stream with keepalives open past the idle timeout and several checks, and closes an idle connection", async () => {
    // The smallest idle timeout the provider's check allows: 1 second.
    const { port, outs } = await balancerOverBothNodes({ timeout: 1 });
    const stream = await openStream(outs.ipv4, port);
    const node = nodes.find((n) => n.name === stream.node)!;
    const checksAtStart = node.checks.passed;
    await until("four more health checks of the streaming node", () => node.checks.passed >= checksAtStart + 4);
    const keepalives = stream.keepalives;
    await until("more keepalives", () => stream.keepalives > keepalives + 2);
    expect(stream.closed).toBe(false);
    stream.close();

    // An idle connection: one answer, then nothing either way. The node keeps it open for 120 s; the balancer does not.
    const idle: Socket = connect({ host: outs.ipv4, port });
    idle.on("error", () => undefined); // a close by reset is a close too
    let answered = false;
    let closed = false;
    idle.on("data", () => (answered = true));
    idle.on("close", () => (closed = true));
    idle.write("GET /whoami HTTP/1.1\r\nhost: lb\r\n\r\n");
    await until("answered", () => answered);
    await until("closed by the balancer", () => closed, Boolean, 15_000);
    idle.destroy();
  });

  it("reloads on a PATCH without dropping the streams open through it", async () => {
    const env = await balancerOverBothNodes();
    // Two streams, one to each node (round robin).
    const stays = await openStream(env.outs.ipv4, env.port);
    const leaves = await openStream(env.outs.ipv4, env.port);
    expect([stays.node, leaves.node].sort()).toEqual(["node-1", "node-2"]);
    const staying = env.byName(stays.node);
    const news = { ...env.inputs, instanceIds: [staying] };
    expect((await env.providers.LoadBalancer.diff!(env.id, env.outs, news)).changes).toBe(true);
    await env.providers.LoadBalancer.update!(env.id, env.outs, news);

    expect(env.fake.requestsTo("PATCH", `/v2/load-balancers/${env.id}`).map((r) => r.body)).toEqual([
      { instances: [staying] },
    ]);
    // Reloaded, not restarted: the same master, a second config loaded.
    expect(env.fake.loadBalancerProxy(env.id)!.haproxy.pid).toBe(env.proxy.haproxy.pid);
    expect(env.proxy.haproxy.output.filter((line) => /Loading success/.test(line))).toHaveLength(2);
    expect(Object.keys(await serverStates(env.proxy))).toEqual([staying]);
    // The same port answers, from the one node left.
    expect(await nodesServing(env.outs.ipv4, env.port, 4)).toEqual(Array(4).fill(stays.node));
    // Both streams go on: the old worker finishes the connections it holds, the one to the node taken out too.
    const before = [stays.keepalives, leaves.keepalives];
    await until("keepalives on both after the reload", () =>
      [stays, leaves].every((stream, i) => stream.keepalives > before[i]! + 3),
    );
    expect([stays.closed, leaves.closed]).toEqual([false, false]);
    stays.close();
    leaves.close();
  });

  it("a PATCH the stand-in cannot run is refused, and the balancer stays as it was", async () => {
    const env = await balancerOverBothNodes();
    const news: LoadBalancerInputs = {
      ...env.inputs,
      forwardingRules: [{ frontendProtocol: "http", frontendPort: 80, backendProtocol: "http", backendPort: 80 }],
    };
    expect(await messageOf(env.providers.LoadBalancer.update!(env.id, env.outs, news))).toMatch(
      /fake-vultr's load balancer stand-in \(HAProxy\) cannot run this: .*the stand-in forwards TCP only/,
    );
    expect(env.fake.state.loadBalancers.get(env.id)!.forwarding_rules).toMatchObject([{ frontend_protocol: "tcp" }]);
    expect((await get(env.outs.ipv4, env.port)).node).toMatch(/^node-[12]$/);
  });

  it("stops the proxy when the balancer is deleted: its port stops answering", async () => {
    const env = await balancerOverBothNodes();
    expect(await tcpProbe(env.outs.ipv4, env.port, 2000)).toBe("connected");
    const pid = env.proxy.haproxy.pid;
    await env.providers.LoadBalancer.delete!(env.id, env.outs);
    expect(env.fake.loadBalancerProxy(env.id)).toBeUndefined();
    expect(await tcpProbe(env.outs.ipv4, env.port, 2000)).toBe("ECONNREFUSED");
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
