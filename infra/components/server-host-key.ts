// An SSH host key the program makes for a server it creates
// (infra/providers/host-key.ts): generated once, kept in state, the private
// half a secret output. The first-boot key (cloud-init's), and the key that
// replaces it (InstalledHostKey).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../providers/dynamic.js";

export interface ServerHostKeyArgs {
  /** The instance the key is installed on once it runs (InstalledHostKey): a new server gets a new key. */
  server?: pulumi.Input<string>;
}

export class ServerHostKey extends pulumi.dynamic.Resource {
  /** The public key line. */
  declare readonly publicKey: pulumi.Output<string>;
  /** Secret: only a secret carries it to the server (the user data, or the host-key step's script). */
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: ServerHostKeyArgs, opts: pulumi.CustomResourceOptions) {
    super(
      bundledProvider("host:HostKey"),
      name,
      {
        keyType: "ed25519",
        ...(args.server ? { server: args.server } : {}),
        publicKey: undefined,
        privateKey: undefined,
      },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "host",
      "HostKey",
    );
  }
}
