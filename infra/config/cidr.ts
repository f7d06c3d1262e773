// Admin CIDRs, parsed and checked. Firewall rules take an address and a
// prefix length, and a rule for "the whole internet" must never slip in.
// Host bits are refused on both families: "2001:db8::7/32" is almost always a
// single address pasted with the wrong prefix, and would open SSH to a /32.
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  version: 4 | 6;
  address: string;
  prefix: number;
}

export function parseCidr(text: string): Cidr | Error {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  const version = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (!version || rest.length > 0) return new Error(`"${text}" is not an IPv4 or IPv6 address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === "") {
    return new Error(`"${text}" has an invalid prefix length (use 0-${max})`);
  }
  const bits = version === 4 ? 32n : 128n;
  const value = version === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
  const hostMask = (1n << (bits - BigInt(prefix))) - 1n;
  if ((value & hostMask) !== 0n) {
    const network = value & ~hostMask & ((1n << bits) - 1n);
    const shown = version === 4 ? bigIntToIpv4(network) : bigIntToIpv6(network);
    const single = version === 4 ? `${address}/32` : `${address}/128`;
    return new Error(
      `"${text}" has host bits set; the network is ${shown}/${prefix} (for this one address use ${single})`,
    );
  }
  return { version, address: version === 6 ? bigIntToIpv6(value) : address, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

/** A dotted IPv4 address (already checked with isIPv4) as its 32-bit number. */
export function ipv4ToBigInt(address: string): bigint {
  return address.split(".").reduce((n, octet) => n * 256n + BigInt(Number(octet)), 0n);
}

/** Whether IPv4 `address` is inside `network`/`prefix`: their leading `prefix` bits match. */
export function ipv4InNetwork(address: string, network: string, prefix: number): boolean {
  if (!isIPv4(address) || !isIPv4(network)) return false;
  const hostBits = BigInt(32 - prefix);
  return ipv4ToBigInt(address) >> hostBits === ipv4ToBigInt(network) >> hostBits;
}

/** The private IPv4 ranges of RFC 1918, as [network, prefix]. */
export const PRIVATE_IPV4_NETWORKS: readonly (readonly [string, number])[] = [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
];

/** Whether IPv4 `address` is in one of the RFC 1918 private ranges. */
export function isPrivateIPv4(address: string): boolean {
  return PRIVATE_IPV4_NETWORKS.some(([network, prefix]) => ipv4InNetwork(address, network, prefix));
}

/** A 32-bit number as its dotted IPv4 address. */
export function bigIntToIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToBigInt(v4[1]!);
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups];
  return groups.reduce((n, group) => (n << 16n) + BigInt(parseInt(group, 16)), 0n);
}

/** The RFC 5952 form: lower case, the longest run of zero groups as "::". */
function bigIntToIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}
