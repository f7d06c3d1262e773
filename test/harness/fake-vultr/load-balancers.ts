// Load balancers (govultr load_balancer.go): "pending" for a few GETs after
// the create, then "active" with its public addresses; a DELETE while pending
// is refused ("Load balancer is not ready."); a PATCH replaces the lists it
// names (instances, forwarding and firewall rules) and "" takes it off its VPC.
// Values Vultr would refuse are refused with a 400 (texts approximate where
// no public source shows Vultr's own): unknown protocols and algorithms,
// ports out of range, an even node count, https or http2 or an SSL redirect
// without a certificate, instances and VPCs missing or in another region.
// With options.loadBalancerProxies each balancer is also a real proxy on a
// loopback address, its ipv4 (load-balancer-proxies.ts): the create starts
// it, a PATCH reloads it, the DELETE stops it; what it cannot run (an http
// rule, say) is refused with a 400 that says it is the stand-in's limit.
import { randomBytes, randomUUID } from "node:crypto";
import { LOAD_BALANCER_NOT_READY } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { LoadBalancerProxyError } from "../../../scripts/loopback/haproxy-config.js";
import { proxyAddress, type LoadBalancerProxies } from "./load-balancer-proxies.js";
import { findVpc } from "./vpcs.js";
import { bare, found, HttpError, isObject, list, now, optionalText, text, type Route } from "./strict.js";
import type { FakeLoadBalancer, Json } from "./types.js";

const PROTOCOLS = ["http", "https", "tcp"];

export function loadBalancerRoutes(ctx: FakeContext): Route[] {
  const { state } = ctx;
  const balancer = (id: string | undefined) => found(state.loadBalancers.get(id ?? ""), "Load balancer not found");
  const all = () => [...state.loadBalancers.values()].map(bare);
  return [
    ["GET", /^\/v2\/load-balancers$/, (_p, _b, q) => list("load_balancers", all(), q)],
    [
      "POST",
      /^\/v2\/load-balancers$/,
      async (_p, body) => {
        const region = text(body, "region");
        if (!ctx.regions.has(region)) throw new HttpError(400, "Invalid region");
        ctx.counters.loadBalancer++;
        const lb: FakeLoadBalancer = {
          id: randomUUID(),
          date_created: now(),
          region,
          label: optionalText(body, "label"),
          status: "pending",
          ipv4: "",
          ipv6: "",
          nodes: 1,
          instances: [],
          has_ssl: false,
          http2: false,
          http3: false,
          health_check: {
            protocol: "http",
            port: 80,
            path: "/",
            check_interval: 15,
            response_timeout: 5,
            unhealthy_threshold: 5,
            healthy_threshold: 5,
          },
          generic_info: {
            balancing_algorithm: "roundrobin",
            ssl_redirect: false,
            proxy_protocol: false,
            timeout: 600,
            vpc: "",
            sticky_sessions: { cookie_name: "" },
          },
          forwarding_rules: [],
          firewall_rules: [],
          fake: {
            pollsLeft: ctx.options.loadBalancerPendingPolls ?? ctx.pendingPolls,
            futureIpv4: ctx.proxies
              ? proxyAddress(ctx.counters.loadBalancer)
              : `203.0.113.${9 + ctx.counters.loadBalancer}`,
            futureIpv6: `2001:db8:1b::${(9 + ctx.counters.loadBalancer).toString(16)}`,
          },
        };
        configure(ctx, lb, body);
        if (ctx.proxies) await runProxy(ctx.proxies, lb);
        state.loadBalancers.set(lb.id, lb);
        return { status: 202, body: { load_balancer: bare(lb) } };
      },
    ],
    [
      "GET",
      /^\/v2\/load-balancers\/([^/]+)$/,
      ([id]) => {
        const lb = balancer(id);
        if (lb.fake.pollsLeft > 0) lb.fake.pollsLeft--;
        if (lb.fake.pollsLeft === 0 && lb.status === "pending") {
          lb.status = "active";
          lb.ipv4 = lb.fake.futureIpv4;
          lb.ipv6 = lb.fake.futureIpv6;
        }
        return { status: 200, body: { load_balancer: bare(lb) } };
      },
    ],
    [
      "PATCH",
      /^\/v2\/load-balancers\/([^/]+)$/,
      async ([id], body) => {
        const lb = balancer(id);
        const before = structuredClone(lb);
        configure(ctx, lb, body);
        if (ctx.proxies) {
          try {
            await runProxy(ctx.proxies, lb);
          } catch (error) {
            Object.assign(lb, before);
            throw error;
          }
        }
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/load-balancers\/([^/]+)$/,
      async ([id]) => {
        const lb = balancer(id);
        if (lb.status !== "active") throw new HttpError(400, LOAD_BALANCER_NOT_READY);
        state.loadBalancers.delete(lb.id);
        await ctx.proxies?.remove(lb.id);
        return { status: 204 };
      },
    ],
  ];
}

/** Starts or reloads the balancer's proxy; what the stand-in cannot run is a 400 naming why. */
async function runProxy(proxies: LoadBalancerProxies, lb: FakeLoadBalancer): Promise<void> {
  try {
    await proxies.apply(lb);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const status = error instanceof LoadBalancerProxyError ? 400 : 500;
    throw new HttpError(status, `fake-vultr's load balancer stand-in (HAProxy) cannot run this: ${reason}`);
  }
}

/** Applies the fields a create or PATCH names, after checking all of them (nothing changes on a refusal). */
function configure(ctx: FakeContext, lb: FakeLoadBalancer, body: Json): void {
  const info = { ...lb.generic_info };
  const next: Partial<FakeLoadBalancer> = {};
  if ("label" in body) next.label = optionalText(body, "label");
  if ("balancing_algorithm" in body) {
    const algorithm = text(body, "balancing_algorithm");
    if (!["roundrobin", "leastconn"].includes(algorithm)) throw new HttpError(400, "Invalid balancing_algorithm");
    info.balancing_algorithm = algorithm;
  }
  for (const flag of ["proxy_protocol", "ssl_redirect"] as const) {
    if (!(flag in body)) continue;
    if (typeof body[flag] !== "boolean") throw new HttpError(400, `Invalid ${flag}`);
    info[flag] = body[flag];
  }
  if (info.ssl_redirect === true && !lb.has_ssl) {
    throw new HttpError(400, "SSL redirect requires an HTTPS forwarding rule and an SSL certificate");
  }
  if ("http2" in body) {
    if (typeof body.http2 !== "boolean") throw new HttpError(400, "Invalid http2");
    if (body.http2 && !lb.has_ssl)
      throw new HttpError(400, "HTTP2 requires an HTTPS forwarding rule and an SSL certificate");
    next.http2 = body.http2;
  }
  if ("timeout" in body) {
    if (!isCount(body.timeout, 1, Number.MAX_SAFE_INTEGER)) throw new HttpError(400, "Invalid timeout");
    info.timeout = body.timeout;
  }
  if ("nodes" in body) {
    if (!isCount(body.nodes, 1, 99) || body.nodes % 2 === 0) {
      throw new HttpError(400, "The number of nodes must be an odd number from 1 to 99");
    }
    next.nodes = body.nodes;
  }
  if ("health_check" in body) next.health_check = healthCheck(body.health_check);
  if ("forwarding_rules" in body) next.forwarding_rules = forwardingRules(lb, body.forwarding_rules);
  if ("firewall_rules" in body) next.firewall_rules = firewallRules(body.firewall_rules);
  if ("instances" in body) {
    const ids = Array.isArray(body.instances) ? body.instances : undefined;
    if (!ids || ids.some((id) => typeof id !== "string")) throw new HttpError(400, "Invalid instances");
    for (const id of ids as string[]) {
      const inst = ctx.state.instances.get(id);
      if (!inst) throw new HttpError(400, `Invalid instance: ${id}`);
      if (inst.region !== lb.region) throw new HttpError(400, `Instance ${id} is not in the load balancer's region`);
    }
    next.instances = [...(ids as string[])];
  }
  if ("vpc" in body) {
    const vpcId = typeof body.vpc === "string" ? body.vpc : "";
    if (vpcId && findVpc(ctx, vpcId).region !== lb.region) {
      throw new HttpError(400, "VPC is not in the load balancer's region");
    }
    info.vpc = vpcId;
  }
  Object.assign(lb, next, { generic_info: info });
}

function healthCheck(value: unknown): Json {
  if (!isObject(value)) throw new HttpError(400, "Invalid health_check");
  const protocol = typeof value.protocol === "string" ? value.protocol.toLowerCase() : "";
  if (!PROTOCOLS.includes(protocol)) throw new HttpError(400, "Invalid health check protocol");
  if (!isCount(value.port, 1, 65535)) throw new HttpError(400, "Invalid health check port");
  for (const name of ["check_interval", "response_timeout", "unhealthy_threshold", "healthy_threshold"]) {
    if (name in value && !isCount(value[name], 1, Number.MAX_SAFE_INTEGER)) {
      throw new HttpError(400, `Invalid health check ${name}`);
    }
  }
  return {
    protocol,
    port: value.port,
    path: typeof value.path === "string" && value.path !== "" ? value.path : "/",
    check_interval: value.check_interval ?? 15,
    response_timeout: value.response_timeout ?? 5,
    unhealthy_threshold: value.unhealthy_threshold ?? 5,
    healthy_threshold: value.healthy_threshold ?? 5,
  };
}

function forwardingRules(lb: FakeLoadBalancer, value: unknown): Json[] {
  if (!Array.isArray(value)) throw new HttpError(400, "Invalid forwarding_rules");
  if (value.length > 15) throw new HttpError(400, "A load balancer can have at most 15 forwarding rules");
  return value.map((rule: unknown) => {
    if (!isObject(rule)) throw new HttpError(400, "Invalid forwarding rule");
    const frontend = String(rule.frontend_protocol ?? "").toLowerCase();
    const backend = String(rule.backend_protocol ?? "").toLowerCase();
    if (!PROTOCOLS.includes(frontend) || !PROTOCOLS.includes(backend)) {
      throw new HttpError(400, "Invalid forwarding rule protocol");
    }
    if (!isCount(rule.frontend_port, 1, 65535) || !isCount(rule.backend_port, 1, 65535)) {
      throw new HttpError(400, "Invalid forwarding rule port");
    }
    if (rule.frontend_port >= 65300 && rule.frontend_port <= 65310) {
      throw new HttpError(400, "Ports 65300 to 65310 are reserved by the load balancer");
    }
    if (frontend === "https" && !lb.has_ssl)
      throw new HttpError(400, "An HTTPS forwarding rule requires an SSL certificate");
    // A rule that stays keeps its id; a new one gets a new id.
    const same = lb.forwarding_rules.find(
      (r) =>
        r.frontend_protocol === frontend &&
        r.frontend_port === rule.frontend_port &&
        r.backend_protocol === backend &&
        r.backend_port === rule.backend_port,
    );
    return {
      id: typeof same?.id === "string" ? same.id : randomBytes(8).toString("hex"),
      frontend_protocol: frontend,
      frontend_port: rule.frontend_port,
      backend_protocol: backend,
      backend_port: rule.backend_port,
    };
  });
}

function firewallRules(value: unknown): Json[] {
  if (!Array.isArray(value)) throw new HttpError(400, "Invalid firewall_rules");
  return value.map((rule: unknown) => {
    if (!isObject(rule) || !isCount(rule.port, 1, 65535)) throw new HttpError(400, "Invalid firewall rule port");
    if (rule.ip_type !== "v4" && rule.ip_type !== "v6") throw new HttpError(400, "Invalid firewall rule ip_type");
    if (typeof rule.source !== "string" || (rule.source !== "cloudflare" && !rule.source.includes("/"))) {
      throw new HttpError(400, "Invalid firewall rule source");
    }
    return { id: randomBytes(8).toString("hex"), port: rule.port, source: rule.source, ip_type: rule.ip_type };
  });
}

function isCount(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}
