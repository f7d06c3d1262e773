// The key a client is rate-limited by. An IPv6 subscriber is normally given a
// whole /64 and can pick any address in it, so limiting single IPv6 addresses
// would let one client rotate through 2^64 fresh limits; IPv4 addresses are
// scarce enough to count one by one.
import ipaddr from "ipaddr.js";

/**
 * "198.51.100.7" for an IPv4 client (also when it arrives IPv4-mapped, as
 * "::ffff:198.51.100.7", on a dual-stack socket), "2001:db8:1:2::/64" for an
 * IPv6 one. Anything unparseable is its own key, unchanged.
 */
export function clientKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (address.kind() === "ipv4") return address.toString();
  const prefix = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...prefix, 0, 0, 0, 0]).toString()}/64`;
}
