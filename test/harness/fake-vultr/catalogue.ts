// Plausible catalogues; the ids are Vultr-like, not authoritative. And the
// messages of Vultr's the tests match on.
import type { FakeCluster, FakeOs, FakePlan, FakeTier } from "./types.js";

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
/** Deleting a reserved IP still attached (terraform-provider-vultr issue 348). */
export const UNABLE_TO_DETACH = "Unable to detach subnet, please restart your server from the control panel";
/** A DELETE of a locked instance, HTTP 500 (ansible-collection-vultr issue 113). */
export const SERVER_LOCKED = "Unable to destroy server: Unable to remove VM: Server is currently locked";
/** What Vultr says for a missing object of some kinds; the Terraform provider matches these texts. */
export const INVALID_RESERVED_IP = "Invalid reserved-ip ID";
export const INVALID_DOMAIN = "Invalid domain";
export const INVALID_SSH_KEY = "Invalid ssh key";
/** A missing VPC: the text terraform-provider-vultr's read matches. */
export const INVALID_VPC = "Invalid VPC ID";
/**
 * Deleting a VPC still in use. The Terraform provider waits while the text
 * contains "attached to this VPC network"; the rest is ours.
 */
export const VPC_IN_USE = "Unable to delete VPC: there are still resources attached to this VPC network";
/** Deleting a load balancer still being set up (the text terraform-provider-vultr's delete waits on). */
export const LOAD_BALANCER_NOT_READY = "Load balancer is not ready.";
