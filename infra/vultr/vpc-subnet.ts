// A VPC's IPv4 network, checked before Vultr sees it. (Whether an address
// lies in it, as an instance's private address must before it counts as
// ready: ipv4InNetwork in config/cidr.ts.)
import { isIPv4 } from "node:net";
import { ipv4InNetwork, parseCidr, PRIVATE_IPV4_NETWORKS } from "../config/cidr.js";

/** The smallest network worth a VPC: a /29 leaves room for three nodes and a load balancer. */
export const VPC_PREFIX_RANGE = { min: 8, max: 29 } as const;

/**
 * Why `network`/`prefix` cannot be a VPC's subnet, or undefined when it can.
 * The prefix is one already checked against VPC_PREFIX_RANGE (the Vpc
 * provider's check does, and reports it on v4SubnetMask).
 */
export function vpcSubnetProblem(network: string, prefix: number): string | undefined {
  if (!isIPv4(network)) return `"${network}" is not an IPv4 network address (e.g. "10.20.0.0")`;
  const parsed = parseCidr(`${network}/${prefix}`);
  if (parsed instanceof Error) return parsed.message;
  if (!PRIVATE_IPV4_NETWORKS.some(([base, size]) => prefix >= size && ipv4InNetwork(network, base, size))) {
    return `${network}/${prefix} is not a private network: use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`;
  }
  return undefined;
}
