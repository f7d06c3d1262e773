// Admin CIDRs, parsed and checked. Firewall rules take an address and a
// prefix length, and a rule for "the whole internet" must never slip in.
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
  if (version === 4) {
    const network = ipv4Network(address, prefix);
    if (network !== address) return new Error(`"${text}" has host bits set; the network is ${network}/${prefix}`);
  }
  return { version, address, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

function ipv4Network(address: string, prefix: number): string {
  const value = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (value & mask) >>> 0;
  return [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
}
