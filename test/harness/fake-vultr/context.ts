// What every resource kind's routes share: the state, the catalogues and the
// settings a test may change while the fake runs.
import { DEFAULT_CLUSTERS, DEFAULT_OS, DEFAULT_PLANS, DEFAULT_REGIONS, DEFAULT_TIERS } from "./catalogue.js";
import { LoadBalancerProxies } from "./load-balancer-proxies.js";
import type { FakeCluster, FakeOs, FakePlan, FakeState, FakeTier, FakeVultrOptions } from "./types.js";

export interface FakeContext {
  options: FakeVultrOptions;
  state: FakeState;
  os: FakeOs[];
  plans: FakePlan[];
  regions: Set<string>;
  clusters: FakeCluster[];
  tiers: FakeTier[];
  /** How many GETs a new instance, subscription or resize stays pending (setPendingPolls changes it). */
  pendingPolls: number;
  nextIpv4: () => string;
  nextReservedIpv4: () => string;
  /** The clock locks and releases are measured on (options.clock). */
  now: () => number;
  /** Instances and reserved IPs draw their IPv6 networks from one counter, so none repeats. */
  counters: { v6: number; rule: number; vpc: number; loadBalancer: number };
  /** The load balancers' proxies, when options.loadBalancerProxies asks for them. */
  proxies?: LoadBalancerProxies;
}

export function createContext(options: FakeVultrOptions): FakeContext {
  const state: FakeState = {
    instances: new Map(),
    firewallGroups: new Map(),
    firewallRules: new Map(),
    sshKeys: new Map(),
    reservedIps: new Map(),
    domains: new Map(),
    records: new Map(),
    objectStorages: new Map(),
    vpcs: new Map(),
    loadBalancers: new Map(),
  };
  return {
    options,
    state,
    proxies: options.loadBalancerProxies && new LoadBalancerProxies(options.loadBalancerProxies, state.instances),
    os: options.os ?? DEFAULT_OS,
    plans: options.plans ?? DEFAULT_PLANS,
    regions: new Set(options.regions ?? DEFAULT_REGIONS),
    clusters: options.clusters ?? DEFAULT_CLUSTERS,
    tiers: options.tiers ?? DEFAULT_TIERS,
    pendingPolls: options.pendingPolls ?? 2,
    nextIpv4: addressSource(options.instanceIpv4, "192.0.2.", 10),
    nextReservedIpv4: addressSource(options.reservedIpv4, "198.51.100.", 10),
    counters: { v6: 0, rule: 0, vpc: 0, loadBalancer: 0 },
    now: options.clock ?? Date.now,
  };
}

function addressSource(option: string | (() => string) | undefined, prefix: string, start: number): () => string {
  if (typeof option === "function") return option;
  if (typeof option === "string") return () => option;
  let next = start;
  return () => `${prefix}${next++}`;
}
