// The fake Vultr API's public shapes: its options, what it records, and its
// state (Vultr's own fields, plus a `fake` part for its bookkeeping).
import type { ProxyNode } from "../../../scripts/loopback/haproxy-config.js";
import type { RunningLoadBalancerProxy } from "./load-balancer-proxies.js";

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
   * After an instance holding a reserved IP is deleted, the reserved IP stays
   * attached (to the instance gone) this long: Vultr detaches it after
   * answering the DELETE. Until then an instance create naming it is refused
   * ("already attached") and so is deleting it ("Unable to detach subnet").
   * @default 0
   */
  reservedIpReleaseMs?: number;
  /**
   * A new instance, and one whose plan changed, is locked this long: a
   * DELETE or PATCH of it answers HTTP 500 "... Server is currently locked".
   * @default 0
   */
  instanceLockMs?: number;
  /**
   * After an instance in a VPC is deleted, the VPC still counts it as attached
   * this long (Vultr lets go after answering the DELETE): deleting the VPC is
   * refused until then. @default 0
   */
  vpcReleaseMs?: number;
  /** How many GETs a new load balancer stays "pending" (setPendingPolls changes it too). @default pendingPolls */
  loadBalancerPendingPolls?: number;
  /**
   * Run each load balancer as a real proxy (HAProxy) on a loopback address
   * of its own, which becomes its ipv4: created, reconfigured by a PATCH,
   * stopped by a DELETE (fake-vultr/load-balancer-proxies.ts). Without it a
   * load balancer is data only, with a documentation address.
   */
  loadBalancerProxies?: LoadBalancerProxyOptions;
  /** The fake's clock for locks and releases, in ms; a test may drive it by hand. @default Date.now */
  clock?: () => number;
  os?: FakeOs[];
  plans?: FakePlan[];
  regions?: string[];
  clusters?: FakeCluster[];
  tiers?: FakeTier[];
}

export interface LoadBalancerProxyOptions {
  /** Where an instance a load balancer names is reached on this machine: the node stand-in's host and its ports. */
  node(instance: FakeInstance): ProxyNode;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
  /** The status the fake answered with. */
  status: number;
  /** The body it answered with (parsed JSON), if any. */
  response?: unknown;
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
  /**
   * Carry the request out first, then answer with this failure: Vultr's front
   * end answering 502/504 after its back end took a create.
   */
  afterHandling?: boolean;
}

export type Json = Record<string, unknown>;

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
  /** The private address in its VPC: "" until the instance is active, and without a VPC. */
  internal_ip: string;
  /** Not in Vultr's answers: fake bookkeeping. */
  fake: {
    /** The VPCs attached, and the private address each gave it. */
    vpcs: Map<string, string>;
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
    /** Date.now() until which the instance is locked (after create, after a resize). */
    lockedUntil: number;
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
  /** releaseAt: Date.now() at which Vultr lets go of it for the instance deleted; 0 when none pending. */
  fake: { releaseAt: number };
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

export interface FakeFirewallGroup {
  id: string;
  description: string;
  date_created: string;
  date_modified: string;
}

export interface FakeSshKey {
  id: string;
  name: string;
  ssh_key: string;
  date_created: string;
}

export interface FakeDomain {
  domain: string;
  date_created: string;
  dns_sec: string;
}

export interface FakeRecord {
  id: string;
  type: string;
  name: string;
  data: string;
  priority: number;
  ttl: number;
}

export interface FakeVpc {
  id: string;
  region: string;
  description: string;
  v4_subnet: string;
  v4_subnet_mask: number;
  date_created: string;
  /** nextHost: the host number the next attached instance gets; leaving: holder id -> when Vultr lets go of it. */
  fake: { nextHost: number; leaving: Map<string, number> };
}

export interface FakeLoadBalancer {
  id: string;
  date_created: string;
  region: string;
  label: string;
  status: string;
  ipv4: string;
  ipv6: string;
  nodes: number;
  instances: string[];
  has_ssl: boolean;
  http2: boolean;
  http3: boolean;
  health_check: Json;
  generic_info: Json;
  forwarding_rules: Json[];
  firewall_rules: Json[];
  fake: { pollsLeft: number; futureIpv4: string; futureIpv6: string };
}

export interface FakeState {
  instances: Map<string, FakeInstance>;
  firewallGroups: Map<string, FakeFirewallGroup>;
  firewallRules: Map<string, Map<number, Json>>;
  sshKeys: Map<string, FakeSshKey>;
  reservedIps: Map<string, FakeReservedIp>;
  domains: Map<string, FakeDomain>;
  records: Map<string, Map<string, FakeRecord>>;
  objectStorages: Map<string, FakeObjectStorage>;
  vpcs: Map<string, FakeVpc>;
  loadBalancers: Map<string, FakeLoadBalancer>;
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
  /** The running proxy of a load balancer (with options.loadBalancerProxies), or undefined. */
  loadBalancerProxy(id: string): RunningLoadBalancerProxy | undefined;
  /** Closes the API and stops every load balancer proxy. */
  close(): Promise<void>;
}
