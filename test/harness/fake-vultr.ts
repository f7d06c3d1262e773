// A local fake of the Vultr API v2 for the provider tests: state in memory,
// Vultr's paths, JSON field names, status codes and {"error", "status"}
// bodies (as in github.com/vultr/govultr/v3 and its tests), cursor
// pagination, the bearer key, and the behaviours the providers must cope
// with: instances pending with main_ip 0.0.0.0 before turning active, a
// reserved IP held by one instance at a time, Object Storage refusing a
// create without a tier, and injected 429/5xx answers. Messages Vultr's own
// sources do not show are close approximations. Every request is recorded.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";

export interface FakeOs {
  id: number;
  name: string;
  arch: string;
  family: string;
}

export interface FakePlan {
  id: string;
  ram: number;
}

export interface FakeCluster {
  id: number;
  region: string;
  hostname: string;
  deploy: "yes" | "no";
}

export interface FakeTier {
  id: number;
  sales_name: string;
  slug: string;
  price: number;
  is_default: "yes" | "no";
  /** Ids of the clusters offering it. */
  clusterIds: number[];
}

export interface FakeVultrOptions {
  apiKey?: string;
  /** How many GETs of a new instance (or storage subscription, or a resize) answer "still pending". @default 2 */
  pendingPolls?: number;
  /** The IPv4 that new instances report once active: the test host's address, say. @default 192.0.2.x */
  instanceIpv4?: string | (() => string);
  /** The address of new reserved IPv4s. @default 198.51.100.x */
  reservedIpv4?: string | (() => string);
  /**
   * What a new instance's first boot does with its user data (decoded): on
   * a test host, what cloud-init would do. The instance stays pending until
   * it is done; if it fails, reading the instance answers 500 with why.
   */
  firstBoot?: (userData: string) => Promise<void>;
  /**
   * After an instance holding a reserved IP is deleted, this many instance
   * creates still find it attached (Vultr detaches after answering the DELETE).
   * @default 0
   */
  reservedIpReleaseLag?: number;
  os?: FakeOs[];
  plans?: FakePlan[];
  regions?: string[];
  clusters?: FakeCluster[];
  tiers?: FakeTier[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
  /** The status the fake answered with. */
  status: number;
}

export interface InjectedFailure {
  status: number;
  /** @default 1 */
  times?: number;
  method?: string;
  /** Exact path, or a pattern, without the query string. */
  path?: string | RegExp;
  /** @default Vultr-style {"error", "status"} */
  body?: unknown;
  headers?: Record<string, string>;
}

type Json = Record<string, unknown>;

export interface FakeInstance {
  id: string;
  os: string;
  os_id: number;
  plan: string;
  region: string;
  label: string;
  hostname: string;
  status: string;
  power_status: string;
  server_status: string;
  main_ip: string;
  v6_main_ip: string;
  v6_network: string;
  v6_network_size: number;
  firewall_group_id: string;
  features: string[];
  tags: string[];
  date_created: string;
  /** Not in Vultr's answers: fake bookkeeping. */
  fake: {
    pollsLeft: number;
    futureIpv4: string;
    futureIpv6: string;
    enableIpv6: boolean;
    sshKeyIds: string[];
    userData: string;
    reservedIpId: string;
    pendingPlan: string;
    /** The first boot (options.firstBoot) is over; its failure, if it failed. */
    booted: boolean;
    bootError: string;
  };
}

export interface FakeReservedIp {
  id: string;
  region: string;
  ip_type: string;
  subnet: string;
  subnet_size: number;
  label: string;
  instance_id: string;
  fake: { releaseLagLeft: number };
}

export interface FakeObjectStorage {
  id: string;
  date_created: string;
  cluster_id: number;
  region: string;
  location: string;
  label: string;
  status: string;
  s3_hostname: string;
  s3_access_key: string;
  s3_secret_key: string;
  fake: { pollsLeft: number; tierId: number };
}

export interface FakeState {
  instances: Map<string, FakeInstance>;
  firewallGroups: Map<string, { id: string; description: string; date_created: string; date_modified: string }>;
  firewallRules: Map<string, Map<number, Json>>;
  sshKeys: Map<string, { id: string; name: string; ssh_key: string; date_created: string }>;
  reservedIps: Map<string, FakeReservedIp>;
  domains: Map<string, { domain: string; date_created: string; dns_sec: string }>;
  records: Map<
    string,
    Map<string, { id: string; type: string; name: string; data: string; priority: number; ttl: number }>
  >;
  objectStorages: Map<string, FakeObjectStorage>;
}

export interface FakeVultr {
  url: string;
  apiKey: string;
  requests: RecordedRequest[];
  state: FakeState;
  /** Requests with this method whose path matches. */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[];
  inject(failure: InjectedFailure): void;
  setInstanceIpv4(address: string): void;
  setPendingPolls(polls: number): void;
  close(): Promise<void>;
}

// Plausible catalogues; the ids are Vultr-like, not authoritative.
export const DEFAULT_OS: FakeOs[] = [
  { id: 2284, name: "Ubuntu 24.04 LTS x64", arch: "x64", family: "ubuntu" },
  { id: 1743, name: "Ubuntu 22.04 LTS x64", arch: "x64", family: "ubuntu" },
  { id: 2136, name: "Debian 12 x64 (bookworm)", arch: "x64", family: "debian" },
  { id: 1869, name: "Rocky Linux 9 x64", arch: "x64", family: "rockylinux" },
  { id: 2076, name: "Alpine Linux x64", arch: "x64", family: "alpinelinux" },
  { id: 159, name: "Custom", arch: "x64", family: "iso" },
  { id: 180, name: "Snapshot", arch: "x64", family: "snapshot" },
];

export const DEFAULT_PLANS: FakePlan[] = [
  { id: "vc2-1c-1gb", ram: 1024 },
  { id: "vc2-1c-2gb", ram: 2048 },
  { id: "vc2-2c-4gb", ram: 4096 },
  { id: "vhp-1c-2gb-amd", ram: 2048 },
  { id: "vhp-2c-4gb-amd", ram: 4096 },
  { id: "vhp-4c-8gb-amd", ram: 8192 },
];

export const DEFAULT_REGIONS = ["ewr", "ord", "sjc", "ams", "fra", "lhr", "sgp", "nrt"];

export const DEFAULT_CLUSTERS: FakeCluster[] = [
  { id: 1, region: "ewr", hostname: "ewr0.vultrobjects.com", deploy: "no" },
  { id: 2, region: "ewr", hostname: "ewr1.vultrobjects.com", deploy: "yes" },
  { id: 3, region: "ams", hostname: "ams1.vultrobjects.com", deploy: "yes" },
  { id: 4, region: "sjc", hostname: "sjc1.vultrobjects.com", deploy: "yes" },
];

export const DEFAULT_TIERS: FakeTier[] = [
  // The cheapest, but only at the cluster closed to new subscriptions.
  { id: 1, sales_name: "Legacy", slug: "tier_legacy", price: 6, is_default: "no", clusterIds: [1] },
  { id: 2, sales_name: "Standard", slug: "tier_010k_5000m", price: 18, is_default: "yes", clusterIds: [2, 3, 4] },
  { id: 3, sales_name: "Premium", slug: "tier_020k_10000m", price: 36, is_default: "no", clusterIds: [2, 3] },
  { id: 4, sales_name: "Performance", slug: "tier_050k_20000m", price: 60, is_default: "no", clusterIds: [2] },
];

/** The message Vultr gives when a reserved IP is still held (terraform-provider-vultr issue 322). */
export const ALREADY_ATTACHED = "Server add failed: Floating IPv4 address is already attached to another server";
export const INVALID_TIER = "Invalid tier specified for this location";

const RECORD_TYPES = ["A", "AAAA", "CNAME", "NS", "MX", "SRV", "TXT", "CAA", "SSHFP"];
const PROTOCOLS = ["icmp", "tcp", "udp", "gre", "esp", "ah"];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Handler = (params: string[], body: Json, query: Record<string, string>) => Reply;

export async function startFakeVultr(options: FakeVultrOptions = {}): Promise<FakeVultr> {
  const apiKey = options.apiKey ?? "fake-vultr-key-0123456789ABCDEF";
  const os = options.os ?? DEFAULT_OS;
  const plans = options.plans ?? DEFAULT_PLANS;
  const regions = new Set(options.regions ?? DEFAULT_REGIONS);
  const clusters = options.clusters ?? DEFAULT_CLUSTERS;
  const tiers = options.tiers ?? DEFAULT_TIERS;
  let pendingPolls = options.pendingPolls ?? 2;
  let nextIpv4: () => string = addressSource(options.instanceIpv4, "192.0.2.", 10);
  const nextReservedIpv4 = addressSource(options.reservedIpv4, "198.51.100.", 10);
  let v6Counter = 0;
  let ruleCounter = 0;

  const state: FakeState = {
    instances: new Map(),
    firewallGroups: new Map(),
    firewallRules: new Map(),
    sshKeys: new Map(),
    reservedIps: new Map(),
    domains: new Map(),
    records: new Map(),
    objectStorages: new Map(),
  };
  const requests: RecordedRequest[] = [];
  const injected: (InjectedFailure & { times: number })[] = [];

  const instance = (id: string | undefined) => found(state.instances.get(id ?? ""), "instance not found");
  const group = (id: string | undefined) => found(state.firewallGroups.get(id ?? ""), "Firewall group not found");
  const zone = (name: string | undefined) => found(state.domains.get(name ?? ""), "Domain not found");

  const routes: [string, RegExp, Handler][] = [
    // --- operating systems and instances (os.go, instance.go)
    ["GET", /^\/v2\/os$/, (_p, _b, q) => list("os", os, q)],
    [
      "GET",
      /^\/v2\/instances$/,
      (_p, _b, q) => list("instances", [...state.instances.values()].map(publicInstance), q),
    ],
    [
      "POST",
      /^\/v2\/instances$/,
      (_p, body) => {
        const region = text(body, "region");
        if (!regions.has(region)) throw new HttpError(400, "Invalid region");
        const plan = text(body, "plan");
        if (!plans.some((p) => p.id === plan)) throw new HttpError(400, "Invalid plan");
        const chosen = os.find((o) => o.id === body.os_id);
        if (!chosen) throw new HttpError(400, "Invalid os_id");
        const firewallGroupId = optionalText(body, "firewall_group_id");
        if (firewallGroupId && !state.firewallGroups.has(firewallGroupId)) {
          throw new HttpError(400, "Invalid firewall group");
        }
        const sshKeyIds = texts(body, "sshkey_id");
        if (sshKeyIds.some((id) => !state.sshKeys.has(id))) throw new HttpError(400, "Invalid SSH key");
        const userData = optionalText(body, "user_data");
        if (userData && Buffer.from(userData, "base64").toString("base64") !== userData) {
          throw new HttpError(400, "user_data must be base64 encoded");
        }
        const reservedId = optionalText(body, "reserved_ipv4");
        const reserved = reservedId ? state.reservedIps.get(reservedId) : undefined;
        if (reservedId && !reserved) throw new HttpError(400, "Invalid reserved IP");
        if (reserved) {
          if (reserved.region !== region) throw new HttpError(400, "Reserved IP is not in the instance's region");
          if (reserved.instance_id !== "" || reserved.fake.releaseLagLeft > 0) {
            reserved.fake.releaseLagLeft = Math.max(0, reserved.fake.releaseLagLeft - 1);
            throw new HttpError(400, ALREADY_ATTACHED);
          }
        }
        const enableIpv6 = body.enable_ipv6 === true;
        const id = randomUUID();
        v6Counter++;
        const created: FakeInstance = {
          id,
          os: chosen.name,
          os_id: chosen.id,
          plan,
          region,
          label: optionalText(body, "label"),
          hostname: optionalText(body, "hostname") || `vultr-guest-${id.slice(0, 8)}`,
          status: "pending",
          power_status: "running",
          server_status: "none",
          main_ip: "0.0.0.0",
          v6_main_ip: "",
          v6_network: "",
          v6_network_size: 0,
          firewall_group_id: firewallGroupId,
          features: [
            ...(enableIpv6 ? ["ipv6"] : []),
            ...(body.backups === "enabled" ? ["auto_backups"] : []),
            ...(body.ddos_protection === true ? ["ddos_protection"] : []),
          ],
          tags: texts(body, "tags"),
          date_created: now(),
          fake: {
            pollsLeft: pendingPolls,
            futureIpv4: reserved ? reserved.subnet : nextIpv4(),
            futureIpv6: enableIpv6 ? `2001:db8:${(0x1000 + v6Counter).toString(16)}::1` : "",
            enableIpv6,
            sshKeyIds,
            userData,
            reservedIpId: reserved?.id ?? "",
            pendingPlan: "",
            booted: !options.firstBoot,
            bootError: "",
          },
        };
        if (reserved) reserved.instance_id = id;
        state.instances.set(id, created);
        options.firstBoot?.(Buffer.from(userData, "base64").toString("utf8")).then(
          () => (created.fake.booted = true),
          (error: unknown) => (created.fake.bootError = error instanceof Error ? error.message : String(error)),
        );
        return { status: 201, body: { instance: { ...publicInstance(created), default_password: "fake-Pa55word!" } } };
      },
    ],
    [
      "GET",
      /^\/v2\/instances\/([^/]+)$/,
      ([id]) => {
        const found = instance(id);
        if (found.fake.bootError) throw new HttpError(500, `the instance's first boot failed: ${found.fake.bootError}`);
        advanceInstance(found);
        return { status: 200, body: { instance: publicInstance(found) } };
      },
    ],
    [
      "PATCH",
      /^\/v2\/instances\/([^/]+)$/,
      ([id], body) => {
        const found = instance(id);
        if ("plan" in body) {
          const plan = text(body, "plan");
          if (plan !== found.plan && !upgradesOf(found.plan).includes(plan)) {
            throw new HttpError(400, "Invalid plan: an instance can only be upgraded to a larger plan");
          }
          if (plan !== found.plan) {
            found.fake.pendingPlan = plan;
            found.fake.pollsLeft = pendingPolls;
          }
        }
        if ("label" in body) found.label = text(body, "label");
        if ("tags" in body) found.tags = texts(body, "tags");
        if ("firewall_group_id" in body) {
          const groupId = text(body, "firewall_group_id");
          if (groupId && !state.firewallGroups.has(groupId)) throw new HttpError(400, "Invalid firewall group");
          found.firewall_group_id = groupId;
        }
        if ("enable_ipv6" in body) {
          found.fake.enableIpv6 = body.enable_ipv6 === true;
          setFeature(found, "ipv6", found.fake.enableIpv6);
          if (found.fake.enableIpv6 && !found.v6_main_ip) {
            found.fake.futureIpv6 = `2001:db8:${(0x1000 + ++v6Counter).toString(16)}::1`;
            if (found.status === "active") assignIpv6(found);
          }
        }
        if ("backups" in body) setFeature(found, "auto_backups", body.backups === "enabled");
        if ("ddos_protection" in body) setFeature(found, "ddos_protection", body.ddos_protection === true);
        return { status: 202, body: { instance: publicInstance(found) } };
      },
    ],
    [
      "DELETE",
      /^\/v2\/instances\/([^/]+)$/,
      ([id]) => {
        const found = instance(id);
        state.instances.delete(found.id);
        for (const reserved of state.reservedIps.values()) {
          if (reserved.instance_id === found.id) {
            reserved.instance_id = "";
            reserved.fake.releaseLagLeft = options.reservedIpReleaseLag ?? 0;
          }
        }
        return { status: 204 };
      },
    ],
    [
      "GET",
      /^\/v2\/instances\/([^/]+)\/upgrades$/,
      ([id]) => ({
        status: 200,
        body: { upgrades: { os: [], applications: [], plans: upgradesOf(instance(id).plan) } },
      }),
    ],

    // --- firewall groups and rules (firewall_group.go, firewall_rule.go)
    [
      "GET",
      /^\/v2\/firewalls$/,
      (_p, _b, q) => list("firewall_groups", [...state.firewallGroups.values()].map(publicGroup), q),
    ],
    [
      "POST",
      /^\/v2\/firewalls$/,
      (_p, body) => {
        const created = { id: randomUUID(), description: optionalText(body, "description"), date_created: now() };
        state.firewallGroups.set(created.id, { ...created, date_modified: created.date_created });
        state.firewallRules.set(created.id, new Map());
        return { status: 201, body: { firewall_group: publicGroup(group(created.id)) } };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id]) => ({ status: 200, body: { firewall_group: publicGroup(group(id)) } }),
    ],
    [
      "PUT",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id], body) => {
        const found = group(id);
        found.description = text(body, "description");
        found.date_modified = now();
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id]) => {
        const found = group(id);
        // Vultr detaches the group from its instances and drops its rules.
        for (const inst of state.instances.values())
          if (inst.firewall_group_id === found.id) inst.firewall_group_id = "";
        state.firewallGroups.delete(found.id);
        state.firewallRules.delete(found.id);
        return { status: 204 };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)\/rules$/,
      ([id], _b, q) => list("firewall_rules", [...rulesOf(group(id).id).values()], q),
    ],
    [
      "POST",
      /^\/v2\/firewalls\/([^/]+)\/rules$/,
      ([id], body) => {
        const rules = rulesOf(group(id).id);
        const ipType = text(body, "ip_type");
        if (ipType !== "v4" && ipType !== "v6") throw new HttpError(400, "Invalid ip_type");
        const protocol = text(body, "protocol").toLowerCase();
        if (!PROTOCOLS.includes(protocol)) throw new HttpError(400, "Invalid protocol");
        const subnet = text(body, "subnet");
        if (isIP(subnet) !== (ipType === "v4" ? 4 : 6)) throw new HttpError(400, "Invalid subnet");
        const subnetSize = body.subnet_size;
        const maxSize = ipType === "v4" ? 32 : 128;
        if (typeof subnetSize !== "number" || !Number.isInteger(subnetSize) || subnetSize < 0 || subnetSize > maxSize) {
          throw new HttpError(400, "Invalid subnet_size");
        }
        const rule = {
          id: ++ruleCounter,
          type: ipType,
          ip_type: ipType,
          action: "accept",
          protocol,
          port: optionalText(body, "port"),
          subnet,
          subnet_size: subnetSize,
          source: optionalText(body, "source"),
          notes: optionalText(body, "notes"),
        };
        rules.set(rule.id, rule);
        return { status: 201, body: { firewall_rule: rule } };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)\/rules\/(\d+)$/,
      ([id, ruleId]) => ({
        status: 200,
        body: { firewall_rule: found(rulesOf(group(id).id).get(Number(ruleId)), "Firewall rule ID not found") },
      }),
    ],
    [
      "DELETE",
      /^\/v2\/firewalls\/([^/]+)\/rules\/(\d+)$/,
      ([id, ruleId]) => {
        const rules = rulesOf(group(id).id);
        found(rules.get(Number(ruleId)), "Firewall rule ID not found");
        rules.delete(Number(ruleId));
        return { status: 204 };
      },
    ],

    // --- SSH keys (ssh_key.go)
    ["GET", /^\/v2\/ssh-keys$/, (_p, _b, q) => list("ssh_keys", [...state.sshKeys.values()], q)],
    [
      "POST",
      /^\/v2\/ssh-keys$/,
      (_p, body) => {
        const key = { id: randomUUID(), name: text(body, "name"), ssh_key: sshKeyText(body), date_created: now() };
        state.sshKeys.set(key.id, key);
        return { status: 201, body: { ssh_key: key } };
      },
    ],
    [
      "GET",
      /^\/v2\/ssh-keys\/([^/]+)$/,
      ([id]) => ({ status: 200, body: { ssh_key: found(state.sshKeys.get(id ?? ""), "SSH key not found") } }),
    ],
    [
      "PATCH",
      /^\/v2\/ssh-keys\/([^/]+)$/,
      ([id], body) => {
        const key = found(state.sshKeys.get(id ?? ""), "SSH key not found");
        // govultr: empty strings are ignored.
        if (optionalText(body, "name")) key.name = text(body, "name");
        if (optionalText(body, "ssh_key")) key.ssh_key = sshKeyText(body);
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/ssh-keys\/([^/]+)$/,
      ([id]) => {
        found(state.sshKeys.get(id ?? ""), "SSH key not found");
        state.sshKeys.delete(id ?? "");
        return { status: 204 };
      },
    ],

    // --- reserved IPs (reserved_ip.go)
    ["GET", /^\/v2\/reserved-ips$/, (_p, _b, q) => list("reserved_ips", [...state.reservedIps.values()].map(bare), q)],
    [
      "POST",
      /^\/v2\/reserved-ips$/,
      (_p, body) => {
        const region = text(body, "region");
        if (!regions.has(region)) throw new HttpError(400, "Invalid region");
        const ipType = text(body, "ip_type");
        if (ipType !== "v4" && ipType !== "v6") throw new HttpError(400, "Invalid ip_type");
        const reserved: FakeReservedIp = {
          id: randomUUID(),
          region,
          ip_type: ipType,
          subnet: ipType === "v4" ? nextReservedIpv4() : `2001:db8:ffff:${(++v6Counter).toString(16)}::`,
          subnet_size: ipType === "v4" ? 32 : 64,
          label: optionalText(body, "label"),
          instance_id: "",
          fake: { releaseLagLeft: 0 },
        };
        state.reservedIps.set(reserved.id, reserved);
        return { status: 201, body: { reserved_ip: bare(reserved) } };
      },
    ],
    ["GET", /^\/v2\/reserved-ips\/([^/]+)$/, ([id]) => ({ status: 200, body: { reserved_ip: bare(reservedIp(id)) } })],
    [
      "PATCH",
      /^\/v2\/reserved-ips\/([^/]+)$/,
      ([id], body) => {
        const reserved = reservedIp(id);
        reserved.label = optionalText(body, "label");
        return { status: 200, body: { reserved_ip: bare(reserved) } };
      },
    ],
    [
      "DELETE",
      /^\/v2\/reserved-ips\/([^/]+)$/,
      ([id]) => {
        state.reservedIps.delete(reservedIp(id).id);
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/reserved-ips\/([^/]+)\/attach$/,
      ([id], body) => {
        const reserved = reservedIp(id);
        const target = instance(text(body, "instance_id"));
        if (reserved.instance_id !== "" && reserved.instance_id !== target.id)
          throw new HttpError(400, ALREADY_ATTACHED);
        reserved.instance_id = target.id;
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/reserved-ips\/([^/]+)\/detach$/,
      ([id]) => {
        reservedIp(id).instance_id = "";
        return { status: 204 };
      },
    ],

    // --- DNS (domain.go, domain_record.go)
    ["GET", /^\/v2\/domains$/, (_p, _b, q) => list("domains", [...state.domains.values()], q)],
    [
      "POST",
      /^\/v2\/domains$/,
      (_p, body) => {
        const name = text(body, "domain").toLowerCase();
        if (!/^([a-z0-9-]+\.)+[a-z]{2,}$/.test(name)) throw new HttpError(400, "Invalid domain");
        if (state.domains.has(name)) throw new HttpError(400, "Domain already exists");
        state.domains.set(name, { domain: name, date_created: now(), dns_sec: "disabled" });
        const records = new Map<
          string,
          { id: string; type: string; name: string; data: string; priority: number; ttl: number }
        >();
        // With an ip Vultr fills the zone with its defaults (approximated here); without one it stays empty.
        const ip = optionalText(body, "ip");
        if (ip) {
          for (const [type, recordName, data, priority] of [
            ["A", "", ip, -1],
            ["MX", "", name, 10],
          ] as const) {
            const id = randomUUID();
            records.set(id, { id, type, name: recordName, data, priority, ttl: 300 });
          }
        }
        state.records.set(name, records);
        return { status: 201, body: { domain: zone(name) } };
      },
    ],
    ["GET", /^\/v2\/domains\/([^/]+)$/, ([name]) => ({ status: 200, body: { domain: zone(name) } })],
    [
      "DELETE",
      /^\/v2\/domains\/([^/]+)$/,
      ([name]) => {
        state.domains.delete(zone(name).domain);
        state.records.delete(name ?? "");
        return { status: 204 };
      },
    ],
    ["GET", /^\/v2\/domains\/([^/]+)\/records$/, ([name], _b, q) => list("records", [...recordsOf(name).values()], q)],
    [
      "POST",
      /^\/v2\/domains\/([^/]+)\/records$/,
      ([name], body) => {
        const records = recordsOf(name);
        const type = text(body, "type");
        if (!RECORD_TYPES.includes(type)) throw new HttpError(400, "Invalid record type");
        const data = optionalText(body, "data");
        checkRecordData(type, data);
        const id = randomUUID();
        const record = {
          id,
          type,
          name: optionalText(body, "name"),
          data,
          priority: typeof body.priority === "number" ? body.priority : -1,
          ttl: typeof body.ttl === "number" ? body.ttl : 300,
        };
        records.set(id, record);
        return { status: 201, body: { record } };
      },
    ],
    [
      "GET",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id]) => ({ status: 200, body: { record: found(recordsOf(name).get(id ?? ""), "Record not found") } }),
    ],
    [
      "PATCH",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id], body) => {
        const record = found(recordsOf(name).get(id ?? ""), "Record not found");
        if ("data" in body) {
          checkRecordData(record.type, optionalText(body, "data"));
          record.data = optionalText(body, "data");
        }
        if (typeof body.ttl === "number") record.ttl = body.ttl;
        if ("name" in body) record.name = optionalText(body, "name");
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id]) => {
        const records = recordsOf(name);
        found(records.get(id ?? ""), "Record not found");
        records.delete(id ?? "");
        return { status: 204 };
      },
    ],

    // --- Object Storage (object_storage.go)
    [
      "GET",
      /^\/v2\/object-storage\/clusters$/,
      (_p, _b, q) =>
        list(
          "clusters",
          clusters.map((c) => ({ ...c })),
          q,
        ),
    ],
    [
      "GET",
      /^\/v2\/object-storage\/tiers$/,
      () => ({ status: 200, body: { tiers: tiers.map((t) => publicTier(t, clusters)) } }),
    ],
    [
      "GET",
      /^\/v2\/object-storage\/clusters\/(\d+)\/tiers$/,
      ([id]) => ({
        status: 200,
        body: { tiers: tiers.filter((t) => t.clusterIds.includes(Number(id))).map((t) => publicTier(t, clusters)) },
      }),
    ],
    [
      "GET",
      /^\/v2\/object-storage$/,
      (_p, _b, q) =>
        list(
          "object_storages",
          [...state.objectStorages.values()].map((s) => {
            const tier = tiers.find((t) => t.id === s.fake.tierId);
            // Only the list reports the tier, under its own id key (govultr ObjectStorageListTier).
            return { ...bare(s), tier: tier ? { OBJSTORETIERID: tier.id, ...publicTier(tier, clusters) } : null };
          }),
          q,
        ),
    ],
    [
      "POST",
      /^\/v2\/object-storage$/,
      (_p, body) => {
        const cluster = clusters.find((c) => c.id === body.cluster_id);
        if (!cluster || cluster.deploy !== "yes") throw new HttpError(400, "Invalid cluster specified");
        const tier = tiers.find((t) => t.id === body.tier_id && t.clusterIds.includes(cluster.id));
        if (!tier) throw new HttpError(400, INVALID_TIER);
        const storage: FakeObjectStorage = {
          id: randomUUID(),
          date_created: now(),
          cluster_id: cluster.id,
          region: cluster.region,
          location: cluster.hostname.split(".")[0] ?? cluster.region,
          label: optionalText(body, "label"),
          status: "pending",
          s3_hostname: "",
          s3_access_key: "",
          s3_secret_key: "",
          fake: { pollsLeft: pendingPolls, tierId: tier.id },
        };
        state.objectStorages.set(storage.id, storage);
        return { status: 202, body: { object_storage: bare(storage) } };
      },
    ],
    [
      "GET",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id]) => {
        const storage = objectStorage(id);
        if (storage.status === "pending" && --storage.fake.pollsLeft <= 0) {
          storage.status = "active";
          storage.s3_hostname = clusters.find((c) => c.id === storage.cluster_id)?.hostname ?? "";
          storage.s3_access_key = randomBytes(10).toString("hex").toUpperCase();
          storage.s3_secret_key = randomBytes(20).toString("base64url");
        }
        return { status: 200, body: { object_storage: bare(storage) } };
      },
    ],
    [
      "PUT",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id], body) => {
        objectStorage(id).label = optionalText(body, "label");
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/object-storage\/([^/]+)$/,
      ([id]) => {
        state.objectStorages.delete(objectStorage(id).id);
        return { status: 204 };
      },
    ],
  ];

  function reservedIp(id: string | undefined): FakeReservedIp {
    return found(state.reservedIps.get(id ?? ""), "Reserved IP not found");
  }

  function objectStorage(id: string | undefined): FakeObjectStorage {
    return found(state.objectStorages.get(id ?? ""), "Object storage subscription not found");
  }

  function rulesOf(groupId: string): Map<number, Json> {
    const rules = state.firewallRules.get(groupId) ?? new Map<number, Json>();
    state.firewallRules.set(groupId, rules);
    return rules;
  }

  function recordsOf(name: string | undefined) {
    const domain = zone(name).domain;
    const records = state.records.get(domain) ?? new Map();
    state.records.set(domain, records);
    return records;
  }

  function publicGroup(g: { id: string; description: string; date_created: string; date_modified: string }) {
    const instanceCount = [...state.instances.values()].filter((i) => i.firewall_group_id === g.id).length;
    return { ...g, instance_count: instanceCount, rule_count: rulesOf(g.id).size, max_rule_count: 50 };
  }

  function upgradesOf(planId: string): string[] {
    const current = plans.find((p) => p.id === planId);
    if (!current) return [];
    return plans.filter((p) => planFamily(p.id) === planFamily(planId) && p.ram > current.ram).map((p) => p.id);
  }

  // Each GET of a pending instance counts down; at zero it is active with its addresses.
  function advanceInstance(inst: FakeInstance): void {
    if (inst.fake.pollsLeft > 0) inst.fake.pollsLeft--;
    if (inst.fake.pollsLeft > 0 || !inst.fake.booted) return;
    if (inst.status === "pending") {
      inst.status = "active";
      inst.server_status = "ok";
      inst.main_ip = inst.fake.futureIpv4;
      if (inst.fake.enableIpv6) assignIpv6(inst);
    }
    if (inst.fake.pendingPlan) {
      inst.plan = inst.fake.pendingPlan;
      inst.fake.pendingPlan = "";
    }
  }

  function list(key: string, items: unknown[], query: Record<string, string>): Reply {
    const perPage = query.per_page === undefined ? 100 : Number(query.per_page);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 500) throw new HttpError(400, "Invalid per_page");
    let offset = 0;
    if (query.cursor) {
      const match = /^next__(\d+)$/.exec(Buffer.from(query.cursor, "base64").toString("utf8"));
      if (!match) throw new HttpError(400, "Invalid cursor");
      offset = Number(match[1]);
    }
    const page = items.slice(offset, offset + perPage);
    const cursor = (at: number) => Buffer.from(`next__${at}`).toString("base64");
    const next = offset + perPage < items.length ? cursor(offset + perPage) : "";
    const prev = offset > 0 ? Buffer.from(`prev__${Math.max(0, offset - perPage)}`).toString("base64") : "";
    return { status: 200, body: { [key]: page, meta: { total: items.length, links: { next, prev } } } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      authorization: req.headers.authorization,
      status: 0,
    };
    requests.push(record);
    const reply = (answer: Reply) => {
      record.status = answer.status;
      send(res, answer);
    };
    try {
      record.body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      reply(errorReply(400, "Invalid JSON"));
      return;
    }

    const failure = injected.find(
      (f) =>
        (f.method === undefined || f.method === method) &&
        (f.path === undefined || (typeof f.path === "string" ? f.path === url.pathname : f.path.test(url.pathname))),
    );
    if (failure) {
      failure.times -= 1;
      if (failure.times <= 0) injected.splice(injected.indexOf(failure), 1);
      const answer = failure.body === undefined ? errorReply(failure.status, defaultMessage(failure.status)) : failure;
      reply({ status: failure.status, body: answer.body, headers: failure.headers });
      return;
    }

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      reply(errorReply(401, "Invalid API token."));
      return;
    }

    for (const [routeMethod, pattern, handler] of routes) {
      const match = pattern.exec(url.pathname);
      if (!match || routeMethod !== method) continue;
      const body = isObject(record.body) ? record.body : {};
      try {
        reply(handler(match.slice(1), body, record.query));
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        reply(errorReply(error.status, error.message));
      }
      return;
    }
    reply(errorReply(404, "Not found"));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, errorReply(500, `fake-vultr bug: ${String(error)}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    state,
    requestsTo: (method, path) =>
      requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path))),
    inject: (failure) => void injected.push({ ...failure, times: failure.times ?? 1 }),
    setInstanceIpv4: (address) => void (nextIpv4 = () => address),
    setPendingPolls: (polls) => void (pendingPolls = polls),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function found<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new HttpError(404, message);
  return value;
}

function publicInstance(inst: FakeInstance): Omit<FakeInstance, "fake"> {
  return bare(inst);
}

/** A record without the fake's bookkeeping. */
function bare<T extends { fake: unknown }>(value: T): Omit<T, "fake"> {
  const rest: Partial<T> = { ...value };
  delete rest.fake;
  return rest as Omit<T, "fake">;
}

function assignIpv6(inst: FakeInstance): void {
  inst.v6_main_ip = inst.fake.futureIpv6;
  inst.v6_network = inst.fake.futureIpv6.replace(/::1$/, "::");
  inst.v6_network_size = 64;
}

function setFeature(inst: FakeInstance, feature: string, on: boolean): void {
  inst.features = inst.features.filter((f) => f !== feature);
  if (on) inst.features.push(feature);
}

function publicTier(tier: FakeTier, clusters: FakeCluster[]) {
  const { clusterIds, ...rest } = tier;
  return {
    ...rest,
    sales_desc: `${tier.sales_name} object storage`,
    bw_gb_price: 0.01,
    disk_gb_price: 0.018,
    ratelimit_ops_secs: 400,
    ratelimit_ops_bytes: 800_000_000,
    locations: clusters.filter((c) => clusterIds.includes(c.id)).map((c) => ({ ...c })),
  };
}

// "vhp-2c-4gb-amd" and "vhp-4c-8gb-amd" are one family; a vc2 plan is another.
function planFamily(planId: string): string {
  return planId.replace(/-\d+c-\d+gb/, "");
}

function checkRecordData(type: string, data: string): void {
  if (data === "") throw new HttpError(400, "Invalid record data");
  if (type === "A" && isIP(data) !== 4) throw new HttpError(400, "Invalid IPv4 address");
  if (type === "AAAA" && isIP(data) !== 6) throw new HttpError(400, "Invalid IPv6 address");
}

function sshKeyText(body: Json): string {
  const key = text(body, "ssh_key");
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-) ?\S*/.test(key)) throw new HttpError(400, "Invalid SSH key");
  return key;
}

function text(body: Json, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value === "") throw new HttpError(400, `Missing or invalid ${key}`);
  return value;
}

function optionalText(body: Json, key: string): string {
  const value = body[key];
  return typeof value === "string" ? value : "";
}

function texts(body: Json, key: string): string[] {
  const value = body[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function addressSource(option: string | (() => string) | undefined, prefix: string, start: number): () => string {
  if (typeof option === "function") return option;
  if (typeof option === "string") return () => option;
  let next = start;
  return () => `${prefix}${next++}`;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function defaultMessage(status: number): string {
  if (status === 429) return "Rate limit reached - please try your request again later.";
  if (status >= 500) return "Internal server error";
  return "Injected failure";
}

function errorReply(status: number, message: string): Reply {
  return { status, body: { error: message, status } };
}

function send(res: ServerResponse, { status, body, headers }: Reply): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
