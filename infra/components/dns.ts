import * as vultr from "@ediri/vultr";
import * as pulumi from "@pulumi/pulumi";
import { apiDnsRecords } from "../network/dns-records.js";

export interface DnsArgs {
  domain: string;
  /** Create the zone in Vultr DNS, or add records to one that exists. @default true */
  createZone: boolean;
  apiSubdomain: string;
  ipv4: pulumi.Input<string>;
  ipv6: pulumi.Input<string>;
}

/** The API host's A and AAAA records, in a zone this stack creates or adopts. */
export class Dns extends pulumi.ComponentResource {
  readonly zone: pulumi.Output<string>;

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:network:Dns", name, {}, opts);
    const zone = args.createZone
      ? new vultr.DnsDomain(`${name}-zone`, { domain: args.domain }, { parent: this }).domain
      : vultr.getDnsDomainOutput({ domain: args.domain }, { parent: this }).domain;
    for (const record of apiDnsRecords(args.apiSubdomain)) {
      new vultr.DnsRecord(
        `${name}-${record.name}`,
        {
          domain: zone,
          name: record.recordName,
          type: record.type,
          data: record.type === "A" ? args.ipv4 : args.ipv6,
          ttl: record.ttl,
        },
        { parent: this },
      );
    }
    this.zone = zone;
    this.registerOutputs({ zone });
  }
}
