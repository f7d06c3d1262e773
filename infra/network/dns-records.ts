// DNS records for the API host: A to the (reserved or instance) IPv4, AAAA to
// the instance's IPv6. A short TTL so a rebuild without a reserved IP moves
// quickly.
export interface DnsRecordSpec {
  name: string;
  type: "A" | "AAAA";
  /** Record name within the zone: "" is the zone apex. */
  recordName: string;
  ttl: number;
}

export const DNS_TTL_SECONDS = 300;

export function apiDnsRecords(apiSubdomain: string): DnsRecordSpec[] {
  const recordName = apiSubdomain === "@" ? "" : apiSubdomain;
  return [
    { name: "api-a", type: "A", recordName, ttl: DNS_TTL_SECONDS },
    { name: "api-aaaa", type: "AAAA", recordName, ttl: DNS_TTL_SECONDS },
  ];
}
