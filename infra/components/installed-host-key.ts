// The host key a server this program created presents once it runs: not the
// first-boot key its user data carries (readable there for the server's
// whole life), but a key made for it and kept only in the state, installed
// by the host-key step (infra/providers/host-key-install.ts) before any
// other step. Its public half is what every host step and ops command pins.
import * as pulumi from "@pulumi/pulumi";
import { hostKeyStep } from "../host/steps.js";
import type { Templates } from "../host/templates.js";
import { bundledProvider } from "../providers/dynamic.js";
import { HOST_KEY_FIX } from "./host-configuration.js";
import { ServerHostKey } from "./server-host-key.js";

export interface InstalledHostKeyArgs {
  host: pulumi.Input<string>;
  port: number;
  user: string;
  /** The deploy key; must be a secret Output. */
  privateKey: pulumi.Output<string>;
  dialTimeoutSeconds: number;
  /** The key cloud-init installed from the user data (VultrEnvironment.firstBootKey). */
  firstBootKey: pulumi.Input<string>;
  /** The instance id: a new server gets a key of its own, installed again. */
  server: pulumi.Input<string>;
  templates: Templates;
  /** Resources to wait for before dialling: the firewall that lets SSH in. */
  after?: pulumi.Resource[];
}

class HostKeyInstall extends pulumi.dynamic.Resource {
  declare readonly installedKey: pulumi.Output<string>;

  constructor(name: string, props: Record<string, pulumi.Input<unknown>>, opts: pulumi.CustomResourceOptions) {
    super(
      bundledProvider("host:HostKeyInstall"),
      name,
      { ...props, installedKey: undefined, fingerprint: undefined, output: undefined },
      opts,
      "host",
      "HostKeyInstall",
    );
  }
}

export class InstalledHostKey extends pulumi.ComponentResource {
  /** The key the server was confirmed to present: the pin. */
  readonly publicKey: pulumi.Output<string>;

  constructor(name: string, args: InstalledHostKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:host:InstalledHostKey", name, {}, opts);
    const key = new ServerHostKey(`${name}-pair`, { server: args.server }, { parent: this });
    const target = pulumi.secret(
      pulumi.all([args.host, args.privateKey]).apply(([host, privateKey]) => ({
        host,
        port: args.port,
        user: args.user,
        privateKey,
        hostKeyFix: HOST_KEY_FIX,
        dialTimeoutSeconds: args.dialTimeoutSeconds,
      })),
    );
    // Secret: the script carries the key's private half.
    const step = pulumi.secret(
      pulumi.all([key.publicKey, key.privateKey]).apply(([publicKey, privateKey]) => {
        const { name: stepName, command, script, hash } = hostKeyStep(args.templates, { publicKey, privateKey });
        return { name: stepName, command, script, hash };
      }),
    );
    const install = new HostKeyInstall(
      `${name}-install`,
      { target, firstBootKey: args.firstBootKey, key: key.publicKey, step, triggers: [args.server] },
      { parent: this, dependsOn: args.after ?? [] },
    );
    this.publicKey = install.installedKey;
    this.registerOutputs({ publicKey: this.publicKey });
  }
}
