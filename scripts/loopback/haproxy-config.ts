// A Vultr load balancer, as the Vultr API v2 reports it, rendered into the
// haproxy.cfg of a real proxy on loopback that does what it describes: TCP
// forwarding rules, the health check, PROXY protocol, the balancing algorithm
// and the idle timeout (templates in haproxy/). Pure: the runner
// (haproxy.ts) checks and runs the file.
//
// Here rather than in test/harness/ because it is no fake of the API but a
// stand-in for the machine behind it, like nats.ts and caddy.ts: the fake
// Vultr API starts it today, and `npm run local` or the benchmarks can put it
// in front of several API nodes later without importing from test/.
import { readFileSync } from "node:fs";
import { isIPv4 } from "node:net";
import { join } from "node:path";
import type { ApiForwardingRule, ApiHealthCheck, ApiLoadBalancer } from "../../infra/vultr/api-types.js";
import { renderTemplate } from "../../infra/host/render.js";

const TEMPLATE_DIR = join(import.meta.dirname, "haproxy");

export interface HaproxyTemplates {
  /** haproxy/load-balancer.cfg: global and defaults. */
  loadBalancer: string;
  /** haproxy/forwarding-rule.cfg: one frontend and its backend, before its server lines. */
  forwardingRule: string;
}

export function readHaproxyTemplates(): HaproxyTemplates {
  return {
    loadBalancer: readFileSync(join(TEMPLATE_DIR, "load-balancer.cfg"), "utf8"),
    forwardingRule: readFileSync(join(TEMPLATE_DIR, "forwarding-rule.cfg"), "utf8"),
  };
}

/** Where one instance is reached from this machine: its host, and the port here that stands for each of its ports. */
export interface ProxyNode {
  host: string;
  /** The instance's port (a forwarding rule's backend_port, the health check's port) -> the port it listens on here. */
  ports: Readonly<Record<number, number>>;
}

export interface HaproxyConfigInput {
  loadBalancer: ApiLoadBalancer;
  /** By instance id: every instance the load balancer names must have one. */
  nodes: Readonly<Record<string, ProxyNode>>;
  /** The loopback address the load balancer's frontends listen on (its ipv4 as the fake reports it). */
  listenAddress: string;
  /** A forwarding rule's frontend_port -> the port it listens on at listenAddress (ports below 1024 need root). */
  frontendPorts: Readonly<Record<number, number>>;
  /** The unix socket of HAProxy's runtime API (show stat). */
  adminSocket: string;
}

/** A load balancer the stand-in cannot run as described; the message names the field and the way out. */
export class LoadBalancerProxyError extends Error {
  constructor(loadBalancerId: string, problem: string) {
    super(`load balancer ${loadBalancerId}: ${problem}`);
    this.name = "LoadBalancerProxyError";
  }
}

// What may stand in a config line unquoted: HAProxy splits on spaces and
// reads '#' as a comment, quotes and backslashes as escapes.
const WORD = /^[A-Za-z0-9._:-]+$/;
const CHECK_PATH = /^\/[A-Za-z0-9._~%/?=&+-]*$/;
const SOCKET_PATH = /^\/[A-Za-z0-9._/-]+$/;

export function renderHaproxyConfig(templates: HaproxyTemplates, input: HaproxyConfigInput): string {
  const lb = input.loadBalancer;
  if (!WORD.test(lb.id))
    throw new LoadBalancerProxyError(JSON.stringify(lb.id), "the id may hold only letters, digits and ._:-");
  const fail = (problem: string) => new LoadBalancerProxyError(lb.id, problem);
  if (!isIPv4(input.listenAddress) || !input.listenAddress.startsWith("127.")) {
    throw fail(`listen address "${input.listenAddress}" is not a loopback IPv4 address (127.0.0.0/8)`);
  }
  if (!SOCKET_PATH.test(input.adminSocket)) {
    throw fail(`admin socket "${input.adminSocket}" must be an absolute path of letters, digits and ._/-`);
  }
  const rules = lb.forwarding_rules ?? [];
  if (rules.length === 0) throw fail("forwarding_rules is empty: there is nothing to listen on; give it a tcp rule");
  const info = lb.generic_info ?? {};
  const timeout = positiveWhole(fail, "timeout", info.timeout);
  const algorithm = info.balancing_algorithm ?? "roundrobin";
  if (algorithm !== "roundrobin" && algorithm !== "leastconn") {
    throw fail(`balancing_algorithm "${algorithm}" is not "roundrobin" or "leastconn"`);
  }
  const check = healthCheck(fail, lb.health_check);
  const servers = serverLines(fail, lb.instances ?? [], input.nodes);

  const head = renderTemplate("scripts/loopback/haproxy/load-balancer.cfg", templates.loadBalancer, {
    LOAD_BALANCER_ID: lb.id,
    ADMIN_SOCKET: input.adminSocket,
    TIMEOUT: String(timeout),
  });
  const blocks = rules.map((rule, i) => {
    tcpOnly(fail, rule, i);
    if (rules.findIndex((r) => r.frontend_port === rule.frontend_port) !== i) {
      throw fail(`forwarding rule ${i + 1}: frontend port ${rule.frontend_port} has a rule already: one rule per port`);
    }
    const listenPort = input.frontendPorts[rule.frontend_port];
    if (!isPort(listenPort)) {
      throw fail(
        `forwarding rule ${i + 1}: frontend port ${rule.frontend_port} has no port to listen on here (frontendPorts)`,
      );
    }
    // A node that expects the PROXY header on a port expects it on every
    // connection there, the checks' too (Vultr does not say what its checks
    // send); a check port no rule forwards to gets plain checks.
    const proxyOnCheckedPort = info.proxy_protocol === true && rules.some((r) => r.backend_port === check.port);
    const serverOptions = [
      ...(info.proxy_protocol === true ? ["send-proxy"] : []),
      ...(proxyOnCheckedPort ? ["check-send-proxy"] : []),
      ...(check.protocol === "https" ? ["check-ssl", "verify", "none"] : []),
    ];
    const block = renderTemplate("scripts/loopback/haproxy/forwarding-rule.cfg", templates.forwardingRule, {
      FRONTEND_PORT: String(rule.frontend_port),
      BACKEND_PORT: String(rule.backend_port),
      LISTEN: `${input.listenAddress}:${listenPort}`,
      ALGORITHM: algorithm,
      CHECK_SUMMARY: check.summary,
      CHECK_OPTION: check.option,
      RESPONSE_TIMEOUT: String(check.responseTimeout),
      CHECK_INTERVAL: String(check.interval),
      UNHEALTHY_THRESHOLD: String(check.unhealthyThreshold),
      HEALTHY_THRESHOLD: String(check.healthyThreshold),
      PROXY_SUMMARY:
        info.proxy_protocol === true
          ? "on: each connection to a node opens with a PROXY v1 header naming the client (send-proxy)" +
            (proxyOnCheckedPort ? ", and so does each check, its port being a forwarded one (check-send-proxy)" : "")
          : "off: the nodes see the proxy's address, not the client's",
      SERVER_OPTIONS: serverOptions.map((o) => ` ${o}`).join(""),
      CHECK_PORT: String(check.port),
    });
    const lines = servers.map((server) => server(rule.backend_port, check.port));
    return block + lines.map((line) => `  ${line}\n`).join("");
  });
  return head + blocks.join("");
}

interface Check {
  protocol: string;
  port: number;
  option: string;
  summary: string;
  interval: number;
  responseTimeout: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
}

function healthCheck(fail: (problem: string) => Error, check: ApiHealthCheck | undefined): Check {
  if (!check) throw fail("health_check is missing: the stand-in checks every node as the load balancer would");
  const protocol = String(check.protocol).toLowerCase();
  const port = check.port;
  if (!isPort(port)) throw fail(`health_check.port ${String(port)} is not a port from 1 to 65535`);
  const numbers = {
    interval: positiveWhole(fail, "health_check.check_interval", check.check_interval),
    responseTimeout: positiveWhole(fail, "health_check.response_timeout", check.response_timeout),
    unhealthyThreshold: positiveWhole(fail, "health_check.unhealthy_threshold", check.unhealthy_threshold),
    healthyThreshold: positiveWhole(fail, "health_check.healthy_threshold", check.healthy_threshold),
  };
  if (protocol === "tcp") {
    // tcp-check with no rules of its own: a connection accepted is a pass.
    return {
      protocol,
      port,
      option: "option tcp-check",
      summary: `tcp, a connection to port ${port} accepted`,
      ...numbers,
    };
  }
  if (protocol !== "http" && protocol !== "https") {
    throw fail(`health_check.protocol "${check.protocol}" is not "tcp", "http" or "https"`);
  }
  const path = check.path ?? "/";
  if (!CHECK_PATH.test(path)) {
    throw fail(`health_check.path "${path}" must start with "/" and hold only letters, digits and ._~%/?=&+-`);
  }
  return {
    protocol,
    port,
    option: `option httpchk GET ${path}`,
    // HAProxy's default; Vultr does not publish which answers pass.
    summary: `${protocol} GET ${path} at port ${port}, passed by a 2xx or 3xx answer`,
    ...numbers,
  };
}

type ServerLine = (backendPort: number, checkPort: number) => string;

function serverLines(
  fail: (problem: string) => Error,
  instances: readonly string[],
  nodes: Readonly<Record<string, ProxyNode>>,
): ServerLine[] {
  return instances.map((id) => {
    if (!WORD.test(id)) throw fail(`instance id ${JSON.stringify(id)} may hold only letters, digits and ._:-`);
    const node = nodes[id];
    if (!node) throw fail(`instance ${id} has no address on this machine: give it in nodes`);
    if (!isIPv4(node.host)) throw fail(`instance ${id}'s host "${node.host}" is not an IPv4 address`);
    const portHere = (port: number, what: string) => {
      const here = node.ports[port];
      if (!isPort(here))
        throw fail(`instance ${id} has no port here for its ${what} ${port} (nodes["${id}"].ports[${port}])`);
      return here;
    };
    return (backendPort, checkPort) =>
      `server ${id} ${node.host}:${portHere(backendPort, "backend port")} port ${portHere(checkPort, "health check port")}`;
  });
}

/** A forwarded connection is TCP passed through; the stand-in does not terminate HTTP. */
function tcpOnly(fail: (problem: string) => Error, rule: ApiForwardingRule, i: number): void {
  const front = String(rule.frontend_protocol).toLowerCase();
  const back = String(rule.backend_protocol).toLowerCase();
  if (front !== "tcp" || back !== "tcp") {
    throw fail(
      `forwarding rule ${i + 1} (${front} ${rule.frontend_port} -> ${back} ${rule.backend_port}): the stand-in ` +
        "forwards TCP only, as the platform's load balancer passes TLS through to the nodes' Caddy; use " +
        'frontend_protocol and backend_protocol "tcp"',
    );
  }
  if (!isPort(rule.frontend_port) || !isPort(rule.backend_port)) {
    throw fail(`forwarding rule ${i + 1}: its ports must be from 1 to 65535`);
  }
}

function positiveWhole(fail: (problem: string) => Error, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw fail(`${name} ${JSON.stringify(value)} is not a whole number from 1 up`);
  }
  return value;
}

function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}
