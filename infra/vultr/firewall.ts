// Firewall groups and their rules (govultr firewall_group.go, firewall_rule.go).
// A group's description is changed in place (PUT); a rule cannot be changed
// at all (the API has no update for rules), so any change replaces it.
import type { ApiFirewallGroup, ApiFirewallRule } from "./api-types.js";
import { InputChecker } from "./check.js";
import { diffInputs, sameAddress } from "../providers/diff.js";
import { deleteIgnoringMissing, getUnlessGone, type Provider, type SettingsSource } from "./provider.js";

export interface FirewallGroupInputs {
  description: string;
}

export type FirewallGroupState = FirewallGroupInputs;

export function firewallGroupProvider(settings: SettingsSource): Provider<FirewallGroupInputs, FirewallGroupState> {
  return {
    async check(_olds, news) {
      return new InputChecker({ ...news }).text("description", { allowEmpty: true }).result(news);
    },

    async diff(_id, olds, news) {
      const { changes } = diffInputs(olds, news, { replace: [], update: ["description"] });
      return { changes };
    },

    async create(inputs) {
      const { firewall_group } = await settings()
        .client()
        .post<{ firewall_group: ApiFirewallGroup }>("/v2/firewalls", { description: inputs.description });
      return { id: firewall_group.id, outs: { description: inputs.description } };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ firewall_group: ApiFirewallGroup }>(settings, `/v2/firewalls/${id}`);
      if (!found) return { id: "", props };
      return { id, props: { description: found.firewall_group.description } };
    },

    async update(id, _olds, news) {
      await settings().client().put(`/v2/firewalls/${id}`, { description: news.description });
      return { outs: { description: news.description } };
    },

    async delete(id) {
      await deleteIgnoringMissing(settings, `/v2/firewalls/${id}`);
    },
  };
}

export interface FirewallRuleInputs {
  firewallGroupId: string;
  ipType: "v4" | "v6";
  /** "tcp", "udp", "icmp", "gre", "esp" or "ah". */
  protocol: string;
  /** A port or range ("8000:8080"); only meaningful for tcp and udp. */
  port: string;
  /** The source network address, e.g. "0.0.0.0" or "::" with subnetSize 0 for anywhere. */
  subnet: string;
  subnetSize: number;
  notes: string;
}

export type FirewallRuleState = FirewallRuleInputs;

const RULE_INPUTS = ["firewallGroupId", "ipType", "protocol", "port", "subnet", "subnetSize", "notes"] as const;

/** The rule's id is Vultr's number for it, as text; it is unique only within its group, kept in the state. */
export function firewallRuleProvider(settings: SettingsSource): Provider<FirewallRuleInputs, FirewallRuleState> {
  return {
    async check(_olds, news) {
      const checker = new InputChecker({ ...news })
        .text("firewallGroupId")
        .oneOf("ipType", ["v4", "v6"])
        .oneOf("protocol", ["tcp", "udp", "icmp", "gre", "esp", "ah"])
        .text("port", { allowEmpty: true })
        .text("subnet")
        .integer("subnetSize", 0, news.ipType === "v6" ? 128 : 32)
        .text("notes", { allowEmpty: true });
      return checker.result(news);
    },

    // Every input replaces: Vultr has no call that edits a rule.
    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(olds, news, { replace: RULE_INPUTS, update: [] });
      return replaces ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      const withPort = inputs.protocol === "tcp" || inputs.protocol === "udp";
      const { firewall_rule } = await settings()
        .client()
        .post<{ firewall_rule: ApiFirewallRule }>(`/v2/firewalls/${inputs.firewallGroupId}/rules`, {
          ip_type: inputs.ipType,
          protocol: inputs.protocol,
          subnet: inputs.subnet,
          subnet_size: inputs.subnetSize,
          ...(withPort && inputs.port ? { port: inputs.port } : {}),
          ...(inputs.notes ? { notes: inputs.notes } : {}),
        });
      return { id: String(firewall_rule.id), outs: pickRule(inputs) };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ firewall_rule: ApiFirewallRule }>(
        settings,
        `/v2/firewalls/${props.firewallGroupId}/rules/${id}`,
      );
      if (!found) return { id: "", props };
      const rule = found.firewall_rule;
      // Keep the state's spelling when Vultr writes the same value differently
      // ("TCP", a shortened IPv6 address), so a refresh shows no false drift.
      return {
        id,
        props: {
          ...pickRule(props),
          ipType: rule.ip_type === "v6" ? "v6" : "v4",
          protocol: rule.protocol.toLowerCase() === props.protocol.toLowerCase() ? props.protocol : rule.protocol,
          port: rule.port === props.port || (rule.port === "" && !props.port) ? props.port : rule.port,
          subnet: sameAddress(rule.subnet, props.subnet) ? props.subnet : rule.subnet,
          subnetSize: rule.subnet_size,
          notes: rule.notes,
        },
      };
    },

    async delete(id, props) {
      // Deleting the group deletes its rules, so a missing rule is already done.
      await deleteIgnoringMissing(settings, `/v2/firewalls/${props.firewallGroupId}/rules/${id}`);
    },
  };
}

function pickRule(from: FirewallRuleInputs): FirewallRuleState {
  return {
    firewallGroupId: from.firewallGroupId,
    ipType: from.ipType,
    protocol: from.protocol,
    port: from.port,
    subnet: from.subnet,
    subnetSize: from.subnetSize,
    notes: from.notes,
  };
}
