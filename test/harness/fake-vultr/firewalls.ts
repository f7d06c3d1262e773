// Firewall groups and their rules (govultr firewall_group.go, firewall_rule.go):
// a rule's subnet must match its ip_type, deleting a group detaches it from
// its instances and drops its rules.
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import type { FakeContext } from "./context.js";
import { found, HttpError, list, now, optionalText, text, type Route } from "./strict.js";
import type { FakeFirewallGroup, Json } from "./types.js";

const PROTOCOLS = ["icmp", "tcp", "udp", "gre", "esp", "ah"];

export function firewallRoutes(ctx: FakeContext): Route[] {
  const { state } = ctx;
  const group = (id: string | undefined) => found(state.firewallGroups.get(id ?? ""), "Firewall group not found");

  function rulesOf(groupId: string): Map<number, Json> {
    const rules = state.firewallRules.get(groupId) ?? new Map<number, Json>();
    state.firewallRules.set(groupId, rules);
    return rules;
  }

  function publicGroup(g: FakeFirewallGroup) {
    const instanceCount = [...state.instances.values()].filter((i) => i.firewall_group_id === g.id).length;
    return { ...g, instance_count: instanceCount, rule_count: rulesOf(g.id).size, max_rule_count: 50 };
  }

  return [
    [
      "GET",
      /^\/v2\/firewalls$/,
      (_p, _b, q) => list("firewall_groups", [...state.firewallGroups.values()].map(publicGroup), q),
    ],
    [
      "POST",
      /^\/v2\/firewalls$/,
      (_p, body) => {
        const created = { id: randomUUID(), description: optionalText(body, "description"), date_created: now() };
        state.firewallGroups.set(created.id, { ...created, date_modified: created.date_created });
        state.firewallRules.set(created.id, new Map());
        return { status: 201, body: { firewall_group: publicGroup(group(created.id)) } };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id]) => ({ status: 200, body: { firewall_group: publicGroup(group(id)) } }),
    ],
    [
      "PUT",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id], body) => {
        const found = group(id);
        found.description = text(body, "description");
        found.date_modified = now();
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/firewalls\/([^/]+)$/,
      ([id]) => {
        const found = group(id);
        // Vultr detaches the group from its instances and drops its rules.
        for (const inst of state.instances.values())
          if (inst.firewall_group_id === found.id) inst.firewall_group_id = "";
        state.firewallGroups.delete(found.id);
        state.firewallRules.delete(found.id);
        return { status: 204 };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)\/rules$/,
      ([id], _b, q) => list("firewall_rules", [...rulesOf(group(id).id).values()], q),
    ],
    [
      "POST",
      /^\/v2\/firewalls\/([^/]+)\/rules$/,
      ([id], body) => {
        const rules = rulesOf(group(id).id);
        const ipType = text(body, "ip_type");
        if (ipType !== "v4" && ipType !== "v6") throw new HttpError(400, "Invalid ip_type");
        const protocol = text(body, "protocol").toLowerCase();
        if (!PROTOCOLS.includes(protocol)) throw new HttpError(400, "Invalid protocol");
        const subnet = text(body, "subnet");
        if (isIP(subnet) !== (ipType === "v4" ? 4 : 6)) throw new HttpError(400, "Invalid subnet");
        const subnetSize = body.subnet_size;
        const maxSize = ipType === "v4" ? 32 : 128;
        if (typeof subnetSize !== "number" || !Number.isInteger(subnetSize) || subnetSize < 0 || subnetSize > maxSize) {
          throw new HttpError(400, "Invalid subnet_size");
        }
        const rule = {
          id: ++ctx.counters.rule,
          type: ipType,
          ip_type: ipType,
          action: "accept",
          protocol,
          port: optionalText(body, "port"),
          subnet,
          subnet_size: subnetSize,
          source: optionalText(body, "source"),
          notes: optionalText(body, "notes"),
        };
        rules.set(rule.id, rule);
        return { status: 201, body: { firewall_rule: rule } };
      },
    ],
    [
      "GET",
      /^\/v2\/firewalls\/([^/]+)\/rules\/(\d+)$/,
      ([id, ruleId]) => ({
        status: 200,
        body: { firewall_rule: found(rulesOf(group(id).id).get(Number(ruleId)), "Firewall rule ID not found") },
      }),
    ],
    [
      "DELETE",
      /^\/v2\/firewalls\/([^/]+)\/rules\/(\d+)$/,
      ([id, ruleId]) => {
        const rules = rulesOf(group(id).id);
        found(rules.get(Number(ruleId)), "Firewall rule ID not found");
        rules.delete(Number(ruleId));
        return { status: 204 };
      },
    ],
  ];
}
