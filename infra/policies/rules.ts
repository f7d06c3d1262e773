// What this toolkit must never deploy, as Pulumi policies. Kept in a plain
// array (building a PolicyPack starts a gRPC server) so tests can call each
// validation directly; index.ts builds the pack from it.
import type { PolicyResource, Policies, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

// Resource types of this project's providers (infra/components/vultr-resource.ts,
// infra/components/host-configuration.ts).
const FIREWALL_RULE = "pulumi-nodejs:dynamic/vultr:FirewallRule";
const INSTANCE = "pulumi-nodejs:dynamic/vultr:Instance";
const HOST_STEP = "pulumi-nodejs:dynamic/host:Step";
const HOST_KEY_INSTALL = "pulumi-nodejs:dynamic/host:HostKeyInstall";
/**
 * The engine hands the dynamic-provider plugin the whole stack config as its
 * inputs, secrets included, and keeps the secret ones encrypted in state as
 * they are in the stack file (test/host/existing-server-up.test.ts reads the state).
 */
const DYNAMIC_PROVIDER = "pulumi:providers:pulumi-nodejs";

/** Ports the world may reach: HTTP and HTTPS, served by Caddy. */
const WORLD_PORTS = new Set([80, 443]);
/** Named so a violation says what would have been exposed. */
const INTERNAL_PORTS: Record<number, string> = {
  22: "SSH",
  2019: "the Caddy admin API",
  4222: "NATS clients",
  6222: "NATS cluster routes",
  7422: "NATS leaf nodes",
  8080: "the API",
  8081: "an API instance",
  8082: "an API instance",
  8222: "NATS monitoring",
  9090: "Prometheus",
  9093: "Alertmanager",
  9094: "Alertmanager's cluster port",
  9100: "node_exporter",
  9115: "the blackbox exporter",
};

/** The host's monitoring (templates/host/monitoring/): loopback only, reached through an SSH tunnel. */
const MONITORING_PORTS = [9090, 9093, 9094, 9100, 9115];

/** A rule's port field as a range: "" or missing means every port. */
export function portRange(port: unknown): [number, number] {
  const text = typeof port === "string" ? port.trim() : typeof port === "number" ? String(port) : "";
  if (text === "") return [1, 65535];
  const [from, to = from] = text.split(":").map(Number);
  return [from ?? 1, to ?? 65535];
}

function isWorld(props: Record<string, unknown>): boolean {
  return Number(props.subnetSize) === 0;
}

export const noWorldOpenPorts: ResourceValidationPolicy = {
  name: "firewall-world-only-http-https",
  description:
    "Only ports 80 and 443 may be open to the whole internet: never SSH, NATS, its monitoring port or the API.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== FIREWALL_RULE || !isWorld(args.props)) return;
    const protocol = String(args.props.protocol ?? "").toLowerCase();
    if (protocol === "icmp") return;
    const [from, to] = portRange(args.props.port);
    if (protocol === "tcp" && from === to && WORLD_PORTS.has(from)) return;
    const exposed = Object.entries(INTERNAL_PORTS)
      .filter(([p]) => Number(p) >= from && Number(p) <= to)
      .map(([p, what]) => `${p} (${what})`);
    report(
      `Firewall rule "${args.name}" opens ${protocol || "all protocols"} port(s) ${from === to ? from : `${from}-${to}`} to the whole internet` +
        (exposed.length ? `, exposing ${exposed.join(", ")}` : "") +
        ". Allow only 80/443 from anywhere; restrict SSH to the admin CIDRs.",
    );
  },
};

/**
 * The ports SSH is on: those the host steps dial (their target's port, which
 * is config sshPort), or 22 when no step says yet (a preview of a new stack,
 * whose targets are unknown).
 */
export function sshPorts(resources: readonly PolicyResource[]): number[] {
  const ports = new Set<number>();
  for (const resource of resources) {
    if (resource.type !== HOST_STEP) continue;
    const target = readKnown(resource.props, "target");
    const port =
      target && typeof target === "object" ? readKnown(target as Record<string, unknown>, "port") : undefined;
    if (typeof port === "number" && Number.isInteger(port)) ports.add(port);
  }
  return ports.size > 0 ? [...ports].sort((a, b) => a - b) : [22];
}

/** A rule's ports reach `port` over TCP (tcp, or every protocol). */
function reachesTcp(props: Record<string, unknown>, port: number): boolean {
  const protocol = String(readKnown(props, "protocol", "") ?? "").toLowerCase();
  if (protocol !== "tcp" && protocol !== "") return false;
  const [from, to] = portRange(readKnown(props, "port", ""));
  return port >= from && port <= to;
}

export const sshOnlyFromAdmins: StackValidationPolicy = {
  name: "firewall-ssh-only-from-admins",
  description:
    "SSH, on the port the host steps connect to (config sshPort), is reachable from the admin CIDRs and from nobody else.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const ports = sshPorts(args.resources);
    const rules = args.resources.filter((r) => r.type === FIREWALL_RULE);
    for (const rule of rules) {
      const reached = ports.filter((port) => reachesTcp(rule.props, port));
      if (reached.length > 0 && isWorld(rule.props)) {
        report(
          `Firewall rule "${rule.name}" lets anyone on the internet reach SSH (port ${reached.join(", ")}). List your addresses in the adminCidrs config instead.`,
          rule.urn,
        );
      }
    }
    // A stack with a firewall of its own (a new Vultr instance) must let the
    // admins in where the steps dial, or the first step never connects.
    if (rules.length === 0) return;
    for (const port of ports) {
      const open = rules.some((rule) => !isWorld(rule.props) && reachesTcp(rule.props, port));
      if (!open) {
        report(
          `No firewall rule lets the admin CIDRs reach SSH on port ${port}, where the host steps connect (config sshPort): every step, and you, would be locked out. Set sshPort to the port sshd listens on (pulumi config set sshPort ${port}) and keep the firewall rules made from adminCidrs.`,
        );
      }
    }
  },
};

export const noMonitoringPorts: ResourceValidationPolicy = {
  name: "firewall-no-monitoring-ports",
  description:
    "No firewall rule opens Prometheus, Alertmanager or an exporter, to anyone: they have no login, and are reached through an SSH tunnel.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== FIREWALL_RULE) return;
    const exposed = MONITORING_PORTS.filter((port) => reachesTcp(args.props, port));
    if (exposed.length === 0) return;
    const from = isWorld(args.props)
      ? "the whole internet"
      : `${String(readKnown(args.props, "subnet", "?"))}/${String(readKnown(args.props, "subnetSize", "?"))}`;
    report(
      `Firewall rule "${args.name}" opens ${exposed.map((p) => `${p} (${INTERNAL_PORTS[p]})`).join(", ")} to ${from}. ` +
        "The monitoring has no login of its own and listens on the host's loopback only: reach it through an SSH tunnel " +
        "(docs/host.md), and open only the ports the rule needs.",
    );
  },
};

export const instanceHasFirewall: ResourceValidationPolicy = {
  name: "instance-has-firewall",
  description: "Every instance is attached to a firewall group.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== INSTANCE) return;
    // Unknown in a preview: it comes from the firewall group created with it.
    const groupId = readKnown(args.props, "firewallGroupId", UNKNOWN);
    if (groupId === UNKNOWN) return;
    if (typeof groupId !== "string" || groupId === "") {
      report(
        `Instance "${args.name}" has no firewall group: every port its services open would be public. Set firewallGroupId.`,
      );
    }
  },
};

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/\bsk-ant-[A-Za-z0-9_-]{10,}/, "an Anthropic API key"],
  [/\bsk-(proj-)?[A-Za-z0-9_-]{20,}/, "an OpenAI API key"],
  [
    /\b(NATS_TOKEN|[A-Z_]*PASSWORD|JWT_SECRET|[A-Z_]*API_KEY|[A-Z_]*SECRET[A-Z_]*)=(?!\$)[^\s'"]{8,}/,
    "a secret assigned in plain text",
  ],
];

/**
 * Input paths that carry secrets by design, which the components always
 * pass as Pulumi secrets (a test reads the state to check): the SSH key of
 * every host step, the script of the one step that installs the .env, an
 * instance's cloud-init user data (the server's first-boot host key), and
 * the SSH key and script of the host-key step (the key that replaces it).
 * Everything else is stored and shown in plain text, so a credential there would leak.
 */
function secretCarryingPaths(type: string, props: Record<string, unknown>): Set<string> {
  if (type === INSTANCE) return new Set(["userData"]);
  if (type === HOST_KEY_INSTALL) return new Set(["target.privateKey", "step.script"]);
  if (type !== HOST_STEP) return new Set();
  const step = readKnown(props, "step");
  const name = step && typeof step === "object" ? readKnown(step as Record<string, unknown>, "name") : undefined;
  // The stack's secrets and the alert receivers' go in these steps' scripts, which are secret inputs.
  return new Set(["target.privateKey", ...(name === "stack" || name === "monitoring" ? ["step.script"] : [])]);
}

export const noPlaintextCredentials: ResourceValidationPolicy = {
  name: "no-plaintext-credentials",
  description: "No private key, API key or secret may appear in a resource input that is stored in plain text.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type === DYNAMIC_PROVIDER) return;
    const allowed = secretCarryingPaths(args.type, args.props);
    for (const key of Object.keys(args.props)) {
      for (const [path, text] of strings(readKnown(args.props, key), key)) {
        if (allowed.has(path)) continue;
        const hit = CREDENTIAL_PATTERNS.find(([pattern]) => pattern.test(text));
        if (hit) {
          report(
            `"${args.name}" input "${path}" holds ${hit[1]} in plain text. Pass it as a secret (pulumi config set --secret, pulumi.secret()) through a secret input.`,
          );
        }
      }
    }
  },
};

/**
 * Every string in a value, with its path. During a preview an input that
 * depends on another resource is unknown and reading it throws; an unknown
 * value cannot hold a credential written in the program, so it is skipped.
 */
function* strings(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === "string") yield [path, value];
  else if (value && typeof value === "object") {
    for (const key of Object.keys(value)) {
      const child = readKnown(value as Record<string, unknown>, key);
      yield* strings(child, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
    }
  }
}

const UNKNOWN = Symbol("unknown during preview");

/** A property's value, or `ifUnknown` when a preview cannot know it yet. */
function readKnown(object: Record<string, unknown>, key: string, ifUnknown?: unknown): unknown {
  try {
    return object[key];
  } catch (error) {
    // @pulumi/policy's UnknownValueError (not exported) carries the unknown's sentinel.
    if (error instanceof Error && "unknownTypeSentinel" in error) return ifUnknown;
    throw error;
  }
}

export const policies: Policies = [
  noWorldOpenPorts,
  sshOnlyFromAdmins,
  noMonitoringPorts,
  instanceHasFirewall,
  noPlaintextCredentials,
];
