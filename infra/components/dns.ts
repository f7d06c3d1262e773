import * as pulumi from "@pulumi/pulumi";
import { apiDnsRecords } from "../network/dns-records.js";
import { VultrResource } from "./vultr-resource.js";

export interface DnsArgs {
  domain: string;
  /** Create the zone in Vultr DNS, or add records to one that exists (config `createDnsZone`, true unless set). */
  createZone: boolean;
  /** Protect the zone this stack creates (config protectData): destroy refuses to delete it. */
  protectZone: boolean;
  apiSubdomain: string;
  ipv4: pulumi.Input<string>;
  ipv6: pulumi.Input<string>;
}

/** The API host's A and AAAA records, in a zone this stack creates or one that exists in Vultr DNS. */
export class Dns extends pulumi.ComponentResource {
  readonly records: pulumi.Resource[] = [];

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:network:Dns", name, {}, opts);
    const zone = args.createZone
      ? new VultrResource("DnsDomain", `${name}-zone`, { domain: args.domain }, [], {
          parent: this,
          protect: args.protectZone,
        })
      : undefined;
    for (const record of apiDnsRecords(args.apiSubdomain)) {
      this.records.push(
        new VultrResource(
          "DnsRecord",
          `${name}-${record.name}`,
          {
            // With an existing zone the record's create fails with Vultr's own
            // "domain not found" if the zone is missing.
            domain: zone ? zone.id : args.domain,
            name: record.recordName,
            type: record.type,
            data: record.type === "A" ? args.ipv4 : args.ipv6,
            ttl: record.ttl,
          },
          [],
          { parent: this },
        ),
      );
    }
    this.registerOutputs({});
  }
}
