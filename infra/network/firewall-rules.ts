// The complete inbound rule set of the host, and nothing else: SSH (on the
// stack's sshPort) from the admin CIDRs only, HTTP and HTTPS from anywhere,
// over IPv4 and IPv6. NATS,
// its monitoring port and the API instances are never reachable from outside,
// so the guide's "remove public NATS access" step has nothing to remove.
import { formatCidr, type Cidr } from "../config/cidr.js";

export interface FirewallRuleSpec {
  /** Stable name for the Pulumi resource. */
  name: string;
  ipType: "v4" | "v6";
  protocol: "tcp";
  port: string;
  subnet: string;
  subnetSize: number;
  notes: string;
}

export const PUBLIC_PORTS = [
  { port: "80", why: "HTTP (ACME challenges, redirect to HTTPS)" },
  { port: "443", why: "HTTPS (the API through Caddy)" },
] as const;

/** `sshPort`: where sshd listens (config sshPort), the only port the admins reach. */
export function firewallRules(adminCidrs: readonly Cidr[], sshPort: number): FirewallRuleSpec[] {
  const ssh = adminCidrs.map<FirewallRuleSpec>((cidr) => ({
    // The name leaves the port out for 22, so that stacks deployed before
    // sshPort was followed keep their rules instead of replacing them.
    // Another port is another name, never a rule changed in place: a new
    // sshPort's rules are created, and the old port's are deleted by the
    // engine only at the end of an up whose host steps all reached sshd on
    // the new port (it deletes what a program no longer declares last, and
    // not at all after a failure). So the old port stays open until then.
    name: `ssh-${sshPort === 22 ? "" : `${sshPort}-`}${cidr.version === 4 ? "v4" : "v6"}-${cidr.address.replace(/[.:]/g, "-")}-${cidr.prefix}`,
    ipType: cidr.version === 4 ? "v4" : "v6",
    protocol: "tcp",
    port: String(sshPort),
    subnet: cidr.address,
    subnetSize: cidr.prefix,
    notes: `SSH from admin ${formatCidr(cidr)}`,
  }));
  const web = PUBLIC_PORTS.flatMap(({ port, why }) =>
    (["v4", "v6"] as const).map<FirewallRuleSpec>((ipType) => ({
      name: `${port === "80" ? "http" : "https"}-${ipType}`,
      ipType,
      protocol: "tcp",
      port,
      subnet: ipType === "v4" ? "0.0.0.0" : "::",
      subnetSize: 0,
      notes: why,
    })),
  );
  return [...ssh, ...web];
}
