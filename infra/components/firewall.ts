import * as pulumi from "@pulumi/pulumi";
import type { Cidr } from "../config/cidr.js";
import { firewallRules } from "../network/firewall-rules.js";
import { VultrResource } from "./vultr-resource.js";

export interface FirewallArgs {
  /** Addresses allowed to SSH in; nobody else can. */
  adminCidrs: Cidr[];
  /** The port sshd listens on; the admins reach SSH there only. */
  sshPort: number;
  description: string;
}

/** A Vultr firewall group holding exactly the rules of `firewallRules()`. */
export class Firewall extends pulumi.ComponentResource {
  readonly groupId: pulumi.Output<string>;

  constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:network:Firewall", name, {}, opts);
    const group = new VultrResource("FirewallGroup", `${name}-group`, { description: args.description }, [], {
      parent: this,
    });
    for (const rule of firewallRules(args.adminCidrs, args.sshPort)) {
      new VultrResource(
        "FirewallRule",
        `${name}-${rule.name}`,
        {
          firewallGroupId: group.id,
          ipType: rule.ipType,
          protocol: rule.protocol,
          port: rule.port,
          subnet: rule.subnet,
          subnetSize: rule.subnetSize,
          notes: rule.notes,
        },
        [],
        { parent: this },
      );
    }
    this.groupId = group.id;
    this.registerOutputs({ groupId: this.groupId });
  }
}
