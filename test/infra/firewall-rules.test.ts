import { describe, expect, it } from "vitest";
import { parseCidr, type Cidr } from "../../infra/config/cidr.js";
import { firewallRules } from "../../infra/network/firewall-rules.js";

const cidr = (text: string) => parseCidr(text) as Cidr;

describe("firewallRules", () => {
  it("opens only 22 (admins), 80 and 443", () => {
    const rules = firewallRules([cidr("198.51.100.0/24")]);
    expect(new Set(rules.map((r) => r.port))).toEqual(new Set(["22", "80", "443"]));
    expect(rules.filter((r) => r.port === "22")).toEqual([
      expect.objectContaining({ ipType: "v4", subnet: "198.51.100.0", subnetSize: 24, protocol: "tcp" }),
    ]);
    for (const r of rules.filter((r) => r.subnetSize === 0)) expect(["80", "443"]).toContain(r.port);
  });

  it("gives every rule a distinct resource name", () => {
    const rules = firewallRules([cidr("198.51.100.0/24"), cidr("198.51.100.7"), cidr("2001:db8::/32")]);
    expect(new Set(rules.map((r) => r.name)).size).toBe(rules.length);
  });
});
