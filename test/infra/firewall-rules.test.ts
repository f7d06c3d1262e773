import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCidr, type Cidr } from "../../infra/config/cidr.js";
import { cloudInit } from "../../infra/host/cloud-init.js";
import { firewallRules } from "../../infra/network/firewall-rules.js";

const cidr = (text: string) => parseCidr(text) as Cidr;

describe("firewallRules", () => {
  it("opens only 22 (admins), 80 and 443", () => {
    const rules = firewallRules([cidr("198.51.100.0/24")], 22);
    expect(new Set(rules.map((r) => r.port))).toEqual(new Set(["22", "80", "443"]));
    expect(rules.filter((r) => r.port === "22")).toEqual([
      expect.objectContaining({ ipType: "v4", subnet: "198.51.100.0", subnetSize: 24, protocol: "tcp" }),
    ]);
    for (const r of rules.filter((r) => r.subnetSize === 0)) expect(["80", "443"]).toContain(r.port);
  });

  it("opens sshPort to the admins, IPv4 and IPv6, and 22 not at all when SSH is elsewhere", () => {
    const rules = firewallRules([cidr("198.51.100.0/24"), cidr("2001:db8::/32")], 2222);
    expect(new Set(rules.map((r) => r.port))).toEqual(new Set(["2222", "80", "443"]));
    expect(rules.filter((r) => r.port === "2222")).toEqual([
      expect.objectContaining({
        ipType: "v4",
        subnet: "198.51.100.0",
        subnetSize: 24,
        notes: "SSH from admin 198.51.100.0/24",
      }),
      expect.objectContaining({ ipType: "v6", subnet: "2001:db8::", subnetSize: 32 }),
    ]);
    // The rules of port 22 keep their names (a stack from before sshPort was followed changes nothing).
    expect(firewallRules([cidr("198.51.100.0/24")], 22)[0]!.name).toBe("ssh-v4-198-51-100-0-24");
    expect(rules[0]!.name).toBe("ssh-2222-v4-198-51-100-0-24");
  });

  it("never changes an SSH rule in place when sshPort changes: the new port's rules are new resources", () => {
    // So the engine creates them, and deletes the old port's only after every
    // host step reached sshd on the new port (never, if one fails): the old
    // port stays open until SSH has moved.
    const octet = fc.integer({ min: 1, max: 254 });
    const admin = fc.tuple(octet, octet).map(([a, b]) => cidr(`198.51.${a}.${b}`));
    const port = fc.integer({ min: 1, max: 65535 });
    fc.assert(
      fc.property(
        fc.uniqueArray(admin, { minLength: 1, maxLength: 3, selector: (c) => c.address }),
        port,
        port,
        (admins, from, to) => {
          fc.pre(from !== to);
          const names = (p: number) => firewallRules(admins, p).map((r) => r.name);
          const ssh = (p: number) => names(p).filter((name) => name.startsWith("ssh-"));
          const before = names(from);
          // The SSH rules of the two ports share no name; the web rules keep theirs.
          expect(ssh(to).filter((name) => before.includes(name))).toEqual([]);
          expect(
            names(to)
              .filter((name) => before.includes(name))
              .sort(),
          ).toEqual(["http-v4", "http-v6", "https-v4", "https-v6"]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives every rule a distinct resource name", () => {
    const rules = firewallRules([cidr("198.51.100.0/24"), cidr("198.51.100.7"), cidr("2001:db8::/32")], 22);
    expect(new Set(rules.map((r) => r.name)).size).toBe(rules.length);
  });
});

describe("a new instance with SSH on sshPort", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@example.com";
  // Rendering only: the host key's text is carried, not read.
  const hostKey = {
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nrendering-only\n-----END OPENSSH PRIVATE KEY-----\n",
  };

  it("is given no SSH change for port 22", () => {
    expect(cloudInit("deploy", key, hostKey)).not.toContain("runcmd");
    expect(cloudInit("deploy", key, hostKey, 22)).toBe(cloudInit("deploy", key, hostKey));
  });

  it("has sshd moved to sshPort by cloud-init, before the first host step dials it there", () => {
    const userData = cloudInit("deploy", key, hostKey, 2222);
    const runcmd = userData.split("\n").slice(userData.split("\n").indexOf("runcmd:") + 1);
    const command = JSON.parse(runcmd[0]!.replace(/^ {2}- /, "")) as string[];
    expect(command.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(command[2]).toContain("printf 'Port 2222\\n' >/etc/ssh/sshd_config.d/00-platform-port.conf");
    expect(command[2]).toContain("ufw allow 2222/tcp");
  });
});
