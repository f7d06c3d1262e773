// What a load balancer's inputs must be, checked before Vultr sees them, so
// `pulumi preview` names every problem with its path ("healthCheck.port",
// "forwardingRules[1].frontendProtocol") and the way out. Values Pulumi does
// not know yet during a preview are skipped; they are checked when they are.
import { isIPv4, isIPv6 } from "node:net";
import { parseCidr } from "../config/cidr.js";
import { isPlainObject } from "../providers/diff.js";
import { UNKNOWN } from "./check.js";
import type { CheckFailure } from "./provider.js";

export const BALANCING_ALGORITHMS = ["roundrobin", "leastconn"] as const;
export const LB_PROTOCOLS = ["http", "https", "tcp"] as const;

/**
 * The idle timeout, in seconds. Vultr documents the field (an integer, default
 * 600) but publishes no range; this bound is ours: an hour, so that a value
 * in milliseconds by mistake (600000) fails in preview rather than in Vultr.
 */
export const LB_TIMEOUT_SECONDS = { min: 1, max: 3600 } as const;
/** Vultr: "The number of nodes ... (1-99), must be an odd number". */
export const LB_NODES = { min: 1, max: 99 } as const;
/** Vultr's load balancer FAQ: at most 15 forwarding rules. */
export const MAX_FORWARDING_RULES = 15;
/** Ports Vultr's load balancer keeps for itself (load balancer feature reference). */
export const RESERVED_PORTS = { min: 65300, max: 65310 } as const;
/** terraform-provider-vultr's bounds for the health check's interval, timeout and thresholds (Vultr publishes none). */
export const HEALTH_CHECK_COUNT = { min: 1, max: 300 } as const;

const NO_CERTIFICATE =
  "needs a certificate on the load balancer, which this provider does not install: TLS passes through to the " +
  "nodes (forward tcp 443 to 443)";

/** Every problem with a load balancer's inputs; [] when there is none. */
export function loadBalancerProblems(inputs: Record<string, unknown>): CheckFailure[] {
  const problems = new Problems();
  problems.text(inputs, "region");
  problems.text(inputs, "label", true);
  problems.oneOf(inputs, "balancingAlgorithm", BALANCING_ALGORITHMS);
  problems.flag(inputs, "proxyProtocol");
  for (const name of ["sslRedirect", "http2"]) {
    const value = inputs[name];
    if (value === undefined || value === false || value === UNKNOWN) continue;
    if (value === true) problems.add(name, NO_CERTIFICATE);
    else problems.add(name, "must be true or false");
  }
  if (inputs.nodes !== undefined) {
    const nodes = inputs.nodes;
    if (nodes !== UNKNOWN && !(isWhole(nodes, LB_NODES.min, LB_NODES.max) && nodes % 2 === 1)) {
      problems.add("nodes", `must be an odd whole number from ${LB_NODES.min} to ${LB_NODES.max} (Vultr's range)`);
    }
  }
  if (inputs.timeout !== UNKNOWN && !isWhole(inputs.timeout, LB_TIMEOUT_SECONDS.min, LB_TIMEOUT_SECONDS.max)) {
    problems.add(
      "timeout",
      `must be a whole number of seconds from ${LB_TIMEOUT_SECONDS.min} to ${LB_TIMEOUT_SECONDS.max}, ` +
        `got ${JSON.stringify(inputs.timeout)}`,
    );
  }
  healthCheckProblems(problems, inputs.healthCheck);
  forwardingRuleProblems(problems, inputs.forwardingRules);
  firewallRuleProblems(problems, inputs.firewallRules);
  idListProblems(problems, "instanceIds", inputs.instanceIds);
  if (inputs.vpcId !== undefined) problems.text(inputs, "vpcId", true);
  return problems.list;
}

function healthCheckProblems(problems: Problems, value: unknown): void {
  if (value === UNKNOWN) return;
  if (!isPlainObject(value)) {
    problems.add("healthCheck", "must be an object: { protocol, port, path, checkInterval, ... }");
    return;
  }
  problems.oneOf(value, "protocol", LB_PROTOCOLS, "healthCheck.");
  problems.port(value, "port", "healthCheck.", false);
  const path = value.path;
  if (path !== UNKNOWN && (typeof path !== "string" || !path.startsWith("/"))) {
    problems.add("healthCheck.path", 'must be a path starting with "/" (Vultr uses it for http and https checks)');
  }
  for (const name of ["checkInterval", "responseTimeout", "unhealthyThreshold", "healthyThreshold"]) {
    const count = value[name];
    if (count !== UNKNOWN && !isWhole(count, HEALTH_CHECK_COUNT.min, HEALTH_CHECK_COUNT.max)) {
      problems.add(
        `healthCheck.${name}`,
        `must be a whole number from ${HEALTH_CHECK_COUNT.min} to ${HEALTH_CHECK_COUNT.max}`,
      );
    }
  }
}

function forwardingRuleProblems(problems: Problems, value: unknown): void {
  if (value === UNKNOWN) return;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FORWARDING_RULES) {
    problems.add("forwardingRules", `must be a list of 1 to ${MAX_FORWARDING_RULES} rules (Vultr's limit)`);
    return;
  }
  const frontends = new Set<unknown>();
  value.forEach((rule: unknown, i) => {
    const at = `forwardingRules[${i}].`;
    if (rule === UNKNOWN) return;
    if (!isPlainObject(rule)) {
      problems.add(`forwardingRules[${i}]`, "must be { frontendProtocol, frontendPort, backendProtocol, backendPort }");
      return;
    }
    problems.oneOf(rule, "frontendProtocol", LB_PROTOCOLS, at);
    problems.oneOf(rule, "backendProtocol", LB_PROTOCOLS, at);
    if (rule.frontendProtocol === "https") problems.add(`${at}frontendProtocol`, `"https" ${NO_CERTIFICATE}`);
    problems.port(rule, "frontendPort", at);
    problems.port(rule, "backendPort", at, false);
    if (frontends.has(rule.frontendPort)) {
      problems.add(`${at}frontendPort`, `${String(rule.frontendPort)} has a rule already: one rule per frontend port`);
    }
    frontends.add(rule.frontendPort);
  });
}

function firewallRuleProblems(problems: Problems, value: unknown): void {
  if (value === undefined || value === UNKNOWN) return;
  if (!Array.isArray(value)) {
    problems.add("firewallRules", "must be a list of { port, source, ipType }");
    return;
  }
  value.forEach((rule: unknown, i) => {
    const at = `firewallRules[${i}].`;
    if (rule === UNKNOWN) return;
    if (!isPlainObject(rule)) {
      problems.add(`firewallRules[${i}]`, "must be { port, source, ipType }");
      return;
    }
    problems.port(rule, "port", at);
    problems.oneOf(rule, "ipType", ["v4", "v6"], at);
    const source = rule.source;
    if (source === UNKNOWN || source === "cloudflare") return;
    const problem = sourceProblem(source, rule.ipType === "v6" ? 6 : 4);
    if (problem) problems.add(`${at}source`, problem);
  });
}

/**
 * Why a firewall rule's source is not a network of the rule's family with its
 * prefix, or undefined when it is. Parsed as the admin CIDRs are (config/cidr.ts),
 * so host bits are refused too: "198.51.100.7/24" is a single address with the
 * wrong prefix far more often than a network meant.
 */
function sourceProblem(source: unknown, version: 4 | 6): string | undefined {
  const address = typeof source === "string" ? (source.split("/")[0] ?? "") : "";
  const family = version === 6 ? isIPv6(address) : isIPv4(address);
  if (typeof source !== "string" || !source.includes("/") || !family) {
    return (
      `must be an ${version === 6 ? "IPv6" : "IPv4"} network with its prefix (e.g. ` +
      `${version === 6 ? '"2001:db8::/32"' : '"198.51.100.0/24"'}) or "cloudflare"`
    );
  }
  const cidr = parseCidr(source);
  return cidr instanceof Error ? cidr.message : undefined;
}

function idListProblems(problems: Problems, name: string, value: unknown): void {
  if (value === UNKNOWN) return;
  if (!Array.isArray(value) || value.some((id) => typeof id !== "string" || id === "")) {
    problems.add(name, "must be a list of instance ids");
    return;
  }
  const known = value.filter((id) => id !== UNKNOWN);
  if (new Set(known).size !== known.length) problems.add(name, "names an instance twice");
}

class Problems {
  readonly list: CheckFailure[] = [];

  add(property: string, reason: string): void {
    this.list.push({ property, reason });
  }

  text(from: Record<string, unknown>, name: string, allowEmpty = false, at = ""): void {
    const value = from[name];
    if (value === UNKNOWN) return;
    if (typeof value !== "string") this.add(at + name, "must be a string");
    else if (!allowEmpty && value.trim() === "") this.add(at + name, "must not be empty");
  }

  oneOf(from: Record<string, unknown>, name: string, allowed: readonly string[], at = ""): void {
    const value = from[name];
    if (value === UNKNOWN || (typeof value === "string" && allowed.includes(value))) return;
    this.add(at + name, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  }

  flag(from: Record<string, unknown>, name: string): void {
    const value = from[name];
    if (value !== UNKNOWN && typeof value !== "boolean") this.add(name, "must be true or false");
  }

  /** A port; one the load balancer itself listens on (`onLoadBalancer`) must not be one Vultr keeps. */
  port(from: Record<string, unknown>, name: string, at: string, onLoadBalancer = true): void {
    const value = from[name];
    if (value === UNKNOWN) return;
    if (!isWhole(value, 1, 65535)) this.add(at + name, "must be a port from 1 to 65535");
    else if (onLoadBalancer && value >= RESERVED_PORTS.min && value <= RESERVED_PORTS.max) {
      this.add(at + name, `${value} is kept by Vultr's load balancer (${RESERVED_PORTS.min}-${RESERVED_PORTS.max})`);
    }
  }
}

function isWhole(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}
