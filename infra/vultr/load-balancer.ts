// Load balancers (govultr load_balancer.go). Create posts the whole
// configuration and waits until Vultr reports it active with its addresses;
// update PATCHes only what changed (the instance, forwarding and firewall
// lists are sent whole: Vultr makes the balancer match them); only the region
// replaces. Delete waits while Vultr still sets the balancer up ("Load
// balancer is not ready", terraform-provider-vultr waits on it too).
import type {
  ApiForwardingRule,
  ApiHealthCheck,
  ApiLoadBalancer,
  ApiLoadBalancerFirewallRule,
  ApiLoadBalancerRequest,
} from "./api-types.js";
import { createOnce } from "./create-once.js";
import { classifyVultrError } from "./errors.js";
import { diffInputs, sameInput, type DiffRules } from "../providers/diff.js";
import { loadBalancerProblems } from "./load-balancer-check.js";
import {
  deleteIgnoringMissing,
  getUnlessGone,
  PartialCreateError,
  type Provider,
  type ProviderSettings,
  type SettingsSource,
} from "./provider.js";
import { formatDuration, pollUntil, retryWhile } from "./wait.js";

export interface LoadBalancerHealthCheck {
  protocol: "http" | "https" | "tcp";
  port: number;
  /** Requested by http and https checks; Vultr keeps it for tcp too. */
  path: string;
  /** Seconds between two checks. */
  checkInterval: number;
  /** Seconds a node has to answer one check. */
  responseTimeout: number;
  /** Failed checks in a row before a node is taken out of rotation. */
  unhealthyThreshold: number;
  /** Passed checks in a row before it is put back. */
  healthyThreshold: number;
}

export interface LoadBalancerForwardingRule {
  frontendProtocol: "http" | "https" | "tcp";
  frontendPort: number;
  backendProtocol: "http" | "https" | "tcp";
  backendPort: number;
}

export interface LoadBalancerFirewallRule {
  port: number;
  /** A network in CIDR form ("198.51.100.0/24"), or "cloudflare" for Cloudflare's addresses. */
  source: string;
  ipType: "v4" | "v6";
}

export interface LoadBalancerInputs {
  region: string;
  label: string;
  balancingAlgorithm: "roundrobin" | "leastconn";
  /** Sends the client's address to the nodes in a PROXY protocol header; the nodes must expect it. */
  proxyProtocol: boolean;
  /** Seconds a connection may stay idle before the load balancer closes it (long streams need it high). */
  timeout: number;
  healthCheck: LoadBalancerHealthCheck;
  forwardingRules: LoadBalancerForwardingRule[];
  /** Who may reach the frontend ports; none means anyone. */
  firewallRules?: LoadBalancerFirewallRule[];
  /** The nodes; Vultr attaches and detaches instances to match the list. */
  instanceIds: string[];
  /** The VPC the balancer reaches the nodes through; "" or none for their public addresses. */
  vpcId?: string;
  /** Vultr nodes of the balancer itself (odd, 1 to 99). @default 1 */
  nodes?: number;
  /** Both need a certificate on the balancer, which this provider does not install: only false is accepted. */
  sslRedirect?: boolean;
  http2?: boolean;
}

export interface LoadBalancerState extends LoadBalancerInputs {
  /** The public addresses clients (and DNS) use. */
  ipv4: string;
  ipv6: string;
  status: string;
  dateCreated: string;
}

/**
 * Replaced: region (a balancer serves one location). Everything else is
 * changed in place by PATCH /v2/load-balancers/{id}, as the API allows.
 */
export const LOAD_BALANCER_DIFF_RULES: DiffRules<LoadBalancerInputs> = {
  replace: ["region"],
  update: [
    "label",
    "balancingAlgorithm",
    "proxyProtocol",
    "timeout",
    "healthCheck",
    "forwardingRules",
    "firewallRules",
    "instanceIds",
    "vpcId",
    "nodes",
    "sslRedirect",
    "http2",
  ],
  unordered: ["forwardingRules", "firewallRules", "instanceIds"],
};

export function loadBalancerProvider(settings: SettingsSource): Provider<LoadBalancerInputs, LoadBalancerState> {
  return {
    async check(_olds, news) {
      const failures = loadBalancerProblems({ ...news });
      return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
    },

    // Optional inputs left out mean their defaults, as in the state.
    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(pickInputs(olds), pickInputs(news), LOAD_BALANCER_DIFF_RULES);
      return replaces ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      const s = settings();
      const body = loadBalancerRequest(inputs, "create");
      const created = await createOnce(s, {
        what: `Load balancer "${inputs.label}" in ${inputs.region}`,
        post: () =>
          s
            .client()
            .post<{ load_balancer: ApiLoadBalancer }>("/v2/load-balancers", body)
            .then((answer) => answer.load_balancer),
        list: ["/v2/load-balancers", "load_balancers"],
        alike: (lb) => lb.label === inputs.label && lb.region === inputs.region,
      });
      // From here on the balancer exists (and is billed): any failure must leave it in Pulumi's state.
      try {
        return { id: created.id, outs: stateOf(inputs, await waitUntilActive(s, created.id)) };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new PartialCreateError(
          `Load balancer ${created.id} was created but is not active: ${reason}. The next pulumi up waits for it again.`,
          created.id,
          { ...stateOf(inputs, created) },
          error,
        );
      }
    },

    async read(id, props) {
      const found = await getUnlessGone<{ load_balancer: ApiLoadBalancer }>(settings, `/v2/load-balancers/${id}`);
      if (!found) return { id: "", props };
      return { id, props: stateOf(inputsAsReported(found.load_balancer, props), found.load_balancer) };
    },

    async update(id, olds, news) {
      const s = settings();
      const { changed } = diffInputs(pickInputs(olds), pickInputs(news), LOAD_BALANCER_DIFF_RULES);
      const body = loadBalancerRequest(news, "update", changed);
      if (Object.keys(body).length > 0) await s.client().patch(`/v2/load-balancers/${id}`, body);
      // Also finishes a balancer whose create gave up waiting (Pulumi calls update on it).
      return { outs: stateOf(news, await waitUntilActive(s, id)) };
    },

    async delete(id) {
      const s = settings();
      await retryWhile(
        () => deleteIgnoringMissing(settings, `/v2/load-balancers/${id}`),
        (error) => classifyVultrError(error) === "notReady",
        { firstDelayMs: s.pollIntervalMs, maxDelayMs: s.maxBackoffMs, timeoutMs: s.loadBalancerReadyTimeoutMs },
        (error) => {
          const reason = error instanceof Error ? error.message : String(error);
          return new Error(
            `Load balancer ${id} was still being set up after ${formatDuration(s.loadBalancerReadyTimeoutMs)}, and ` +
              "Vultr deletes none before it is ready. Look at it in the Vultr console (Load Balancers), then run " +
              `pulumi again (raise VULTR_WAIT_TIMEOUT_MS to wait longer). (${reason})`,
            { cause: error },
          );
        },
      );
    },
  };
}

/**
 * The request body, in Vultr's names: on create every setting (empty lists
 * and no VPC left out); on update only the inputs in `changed`, where an
 * empty list or "" clears what was there.
 */
export function loadBalancerRequest(
  inputs: LoadBalancerInputs,
  kind: "create" | "update",
  changed: readonly (keyof LoadBalancerInputs)[] = [],
): ApiLoadBalancerRequest {
  const all: ApiLoadBalancerRequest = {
    label: inputs.label,
    balancing_algorithm: inputs.balancingAlgorithm,
    proxy_protocol: inputs.proxyProtocol,
    timeout: inputs.timeout,
    health_check: apiHealthCheck(inputs.healthCheck),
    forwarding_rules: inputs.forwardingRules.map(apiForwardingRule),
    firewall_rules: (inputs.firewallRules ?? []).map(apiFirewallRule),
    instances: inputs.instanceIds,
    vpc: inputs.vpcId ?? "",
    nodes: inputs.nodes ?? 1,
    ssl_redirect: inputs.sslRedirect ?? false,
    http2: inputs.http2 ?? false,
  };
  if (kind === "create") {
    const { firewall_rules, instances, vpc, ...rest } = all;
    return {
      region: inputs.region,
      ...rest,
      ...(firewall_rules?.length ? { firewall_rules } : {}),
      ...(instances?.length ? { instances } : {}),
      ...(vpc ? { vpc } : {}),
    };
  }
  const fields: Record<keyof LoadBalancerInputs, keyof ApiLoadBalancerRequest | undefined> = {
    region: undefined,
    label: "label",
    balancingAlgorithm: "balancing_algorithm",
    proxyProtocol: "proxy_protocol",
    timeout: "timeout",
    healthCheck: "health_check",
    forwardingRules: "forwarding_rules",
    firewallRules: "firewall_rules",
    instanceIds: "instances",
    vpcId: "vpc",
    nodes: "nodes",
    sslRedirect: "ssl_redirect",
    http2: "http2",
  };
  const names = changed.map((input) => fields[input]).filter((name) => name !== undefined);
  return Object.fromEntries(names.map((name) => [name, all[name]])) as ApiLoadBalancerRequest;
}

/** Active, with a public IPv4 (clients and the DNS record need it). */
async function waitUntilActive(s: ProviderSettings, id: string): Promise<ApiLoadBalancer> {
  const client = s.client();
  return pollUntil(
    `Load balancer ${id}`,
    async () => {
      const { load_balancer: lb } = await client.get<{ load_balancer: ApiLoadBalancer }>(`/v2/load-balancers/${id}`);
      if (lb.status === "active" && lb.ipv4) return { done: true, value: lb };
      return { done: false, state: `status ${lb.status}, ipv4 ${lb.ipv4 || "none"}` };
    },
    { intervalMs: s.pollIntervalMs, timeoutMs: s.loadBalancerReadyTimeoutMs },
  );
}

/**
 * The settings as Vultr reports them, for a refresh to show drift. Lists in
 * another order, and protocols in upper case, keep the state's spelling.
 */
export function inputsAsReported(lb: ApiLoadBalancer, props: LoadBalancerInputs): LoadBalancerInputs {
  const info = lb.generic_info ?? {};
  const keep = <T>(reported: T, known: T, unordered = false): T =>
    sameInput(reported, known, unordered) ? known : reported;
  const forwardingRules = lb.forwarding_rules?.map(fromApiForwardingRule) ?? props.forwardingRules;
  const firewallRules = lb.firewall_rules?.map(fromApiFirewallRule) ?? props.firewallRules ?? [];
  return {
    ...pickInputs(props),
    region: lb.region,
    label: lb.label,
    balancingAlgorithm:
      (info.balancing_algorithm as LoadBalancerInputs["balancingAlgorithm"]) ?? props.balancingAlgorithm,
    proxyProtocol: info.proxy_protocol ?? props.proxyProtocol,
    timeout: info.timeout ?? props.timeout,
    healthCheck: lb.health_check ? keep(fromApiHealthCheck(lb.health_check), props.healthCheck) : props.healthCheck,
    forwardingRules: keep(forwardingRules, props.forwardingRules, true),
    firewallRules: keep(firewallRules, props.firewallRules ?? [], true),
    instanceIds: keep(lb.instances ?? [], props.instanceIds, true),
    vpcId: info.vpc ?? "",
    nodes: lb.nodes ?? props.nodes ?? 1,
    sslRedirect: info.ssl_redirect ?? false,
    http2: lb.http2 ?? false,
  };
}

function apiHealthCheck(check: LoadBalancerHealthCheck): ApiHealthCheck {
  return {
    protocol: check.protocol,
    port: check.port,
    path: check.path,
    check_interval: check.checkInterval,
    response_timeout: check.responseTimeout,
    unhealthy_threshold: check.unhealthyThreshold,
    healthy_threshold: check.healthyThreshold,
  };
}

function fromApiHealthCheck(check: ApiHealthCheck): LoadBalancerHealthCheck {
  return {
    protocol: check.protocol.toLowerCase() as LoadBalancerHealthCheck["protocol"],
    port: check.port,
    path: check.path ?? "/",
    checkInterval: check.check_interval,
    responseTimeout: check.response_timeout,
    unhealthyThreshold: check.unhealthy_threshold,
    healthyThreshold: check.healthy_threshold,
  };
}

function apiForwardingRule(rule: LoadBalancerForwardingRule): ApiForwardingRule {
  return {
    frontend_protocol: rule.frontendProtocol,
    frontend_port: rule.frontendPort,
    backend_protocol: rule.backendProtocol,
    backend_port: rule.backendPort,
  };
}

function fromApiForwardingRule(rule: ApiForwardingRule): LoadBalancerForwardingRule {
  return {
    frontendProtocol: rule.frontend_protocol.toLowerCase() as LoadBalancerForwardingRule["frontendProtocol"],
    frontendPort: rule.frontend_port,
    backendProtocol: rule.backend_protocol.toLowerCase() as LoadBalancerForwardingRule["backendProtocol"],
    backendPort: rule.backend_port,
  };
}

function apiFirewallRule(rule: LoadBalancerFirewallRule): ApiLoadBalancerFirewallRule {
  return { port: rule.port, source: rule.source, ip_type: rule.ipType };
}

function fromApiFirewallRule(rule: ApiLoadBalancerFirewallRule): LoadBalancerFirewallRule {
  return { port: rule.port, source: rule.source, ipType: rule.ip_type === "v6" ? "v6" : "v4" };
}

function stateOf(inputs: LoadBalancerInputs, lb: ApiLoadBalancer): LoadBalancerState {
  return {
    ...pickInputs(inputs),
    ipv4: lb.ipv4 ?? "",
    ipv6: lb.ipv6 ?? "",
    status: lb.status,
    dateCreated: lb.date_created,
  };
}

function pickInputs(from: LoadBalancerInputs): LoadBalancerInputs {
  return {
    region: from.region,
    label: from.label,
    balancingAlgorithm: from.balancingAlgorithm,
    proxyProtocol: from.proxyProtocol,
    timeout: from.timeout,
    healthCheck: from.healthCheck,
    forwardingRules: from.forwardingRules,
    firewallRules: from.firewallRules ?? [],
    instanceIds: from.instanceIds,
    vpcId: from.vpcId ?? "",
    nodes: from.nodes ?? 1,
    sslRedirect: from.sslRedirect ?? false,
    http2: from.http2 ?? false,
  };
}
