// A VPC's IPv4 network, checked before Vultr sees it, and whether an address
// lies in it (an instance's private address must, before it counts as ready).
import { isIPv4 } from "node:net";
import { parseCidr } from "../config/cidr.js";

/** The private ranges of RFC 1918, as [network, prefix]. */
const PRIVATE_V4: readonly (readonly [string, number])[] = [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
];

/** The smallest network worth a VPC: a /29 leaves room for three nodes and a load balancer. */
export const VPC_PREFIX_RANGE = { min: 8, max: 29 } as const;

/** Why `network`/`prefix` cannot be a VPC's subnet, or undefined when it can. */
export function vpcSubnetProblem(network: string, prefix: number): string | undefined {
  if (!isIPv4(network)) return `"${network}" is not an IPv4 network address (e.g. "10.20.0.0")`;
  if (!Number.isInteger(prefix) || prefix < VPC_PREFIX_RANGE.min || prefix > VPC_PREFIX_RANGE.max) {
    return `the mask must be a prefix length from ${VPC_PREFIX_RANGE.min} to ${VPC_PREFIX_RANGE.max}, got ${String(prefix)}`;
  }
  const parsed = parseCidr(`${network}/${prefix}`);
  if (parsed instanceof Error) return parsed.message;
  if (!PRIVATE_V4.some(([base, size]) => prefix >= size && ipv4InNetwork(network, base, size))) {
    return `${network}/${prefix} is not a private network: use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`;
  }
  return undefined;
}

/** Whether IPv4 `address` is inside `network`/`prefix`. */
export function ipv4InNetwork(address: string, network: string, prefix: number): boolean {
  if (!isIPv4(address) || !isIPv4(network)) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (toNumber(address) & mask) >>> 0 === (toNumber(network) & mask) >>> 0;
}

function toNumber(address: string): number {
  return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}
