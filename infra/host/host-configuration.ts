// Carries out the host steps (steps.ts) over SSH with @pulumi/command: one
// remote command per step, in order, each re-run only when its script's hash
// changes. Secrets reach the host only inside secret inputs (the connection
// and the stdin of steps that hold them), never on a command line.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HostStep } from "./steps.js";

export interface HostConfigurationArgs {
  /** Address the steps connect to. */
  host: pulumi.Input<string>;
  /** The deploy user, created by cloud-init and kept by the bootstrap. */
  user: string;
  /** Must be a secret Output. */
  privateKey: pulumi.Output<string>;
  steps: HostStep[];
}

export class HostConfiguration extends pulumi.ComponentResource {
  /** The last step's output (the /health answer). */
  readonly verified: pulumi.Output<string>;

  constructor(name: string, args: HostConfigurationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:host:HostConfiguration", name, {}, opts);
    const connection = {
      host: args.host,
      user: args.user,
      privateKey: pulumi.secret(args.privateKey),
      // A new instance takes a while to answer SSH: keep dialling.
      dialErrorLimit: -1,
      perDialTimeout: 30,
    };
    let previous: pulumi.Resource | undefined;
    let last: command.remote.Command | undefined;
    for (const step of args.steps) {
      const trigger = step.secret ? pulumi.secret(step.hash) : step.hash;
      let dependsOn = previous ? [previous] : [];
      if (step.upload) {
        dependsOn = [
          new command.remote.CopyToRemote(
            `${name}-${step.name}-upload`,
            {
              connection,
              source: new pulumi.asset.FileAsset(step.upload.localPath),
              remotePath: step.upload.remotePath,
              triggers: [trigger],
            },
            { parent: this, dependsOn },
          ),
        ];
      }
      last = new command.remote.Command(
        `${name}-${step.name}`,
        {
          connection,
          create: step.command,
          stdin: step.secret ? pulumi.secret(step.script) : step.script,
          triggers: [trigger],
          addPreviousOutputInEnv: false,
        },
        { parent: this, dependsOn, customTimeouts: { create: "20m" } },
      );
      previous = last;
    }
    this.verified = last ? last.stdout : pulumi.output("");
    this.registerOutputs({ verified: this.verified });
  }
}
