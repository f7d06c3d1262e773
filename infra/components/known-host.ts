// An existing server's SSH host key, learnt on the first up and kept in state
// (infra/providers/known-host.ts): the pin when the config gives none.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../providers/dynamic.js";

export interface KnownHostArgs {
  host: pulumi.Input<string>;
  port: number;
  dialTimeoutSeconds: number;
}

export class KnownHost extends pulumi.dynamic.Resource {
  /** The public key line the server presented when it was learnt. */
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: KnownHostArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      bundledProvider("host:KnownHost"),
      name,
      { ...args, publicKey: undefined, fingerprint: undefined, learntAt: undefined },
      opts ?? {},
      "host",
      "KnownHost",
    );
  }
}
