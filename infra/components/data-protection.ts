import * as pulumi from "@pulumi/pulumi";

/**
 * What makes `pulumi destroy` of a stack whose data is protected (config
 * protectData) stop before it deletes anything. The engine deletes
 * dependents first and goes on past a protected resource, skipping only
 * what that one depends on: with the data alone protected, a destroy would
 * still delete the DNS records and the firewall rules (the platform offline,
 * its server shut off behind a rule-less firewall) and only then fail. This
 * resource depends on every other one, so it is the first to be deleted;
 * protected, it fails, and the engine then deletes nothing it depends on.
 * Its name is the setting, so the engine's refusal names what to change.
 */
export class DataProtection extends pulumi.ComponentResource {
  constructor(args: { protect: boolean; everything: pulumi.Resource[] }) {
    super(
      "conversational-platform:safety:DataProtection",
      "protectData",
      {},
      { protect: args.protect, dependsOn: args.everything },
    );
    this.registerOutputs({});
  }
}
