// The SSH host key the program makes for a server it creates
// (infra/providers/host-key.ts): generated once, kept in state, the private
// half a secret output.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../providers/dynamic.js";

export class ServerHostKey extends pulumi.dynamic.Resource {
  /** The public key line the host steps pin. */
  declare readonly publicKey: pulumi.Output<string>;
  /** Secret: only cloud-init's user data (itself secret) carries it to the server. */
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, opts: pulumi.CustomResourceOptions) {
    super(
      bundledProvider("host:HostKey"),
      name,
      { keyType: "ed25519", publicKey: undefined, privateKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "host",
      "HostKey",
    );
  }
}
