// Carries out the host steps (infra/host/steps.ts) over SSH: one HostStep
// resource per step, in order, each re-run only when its script's hash or
// its triggers change. Secrets reach the host only inside secret inputs (the
// private key, the script of a step that holds secrets), never in plain state.
import * as pulumi from "@pulumi/pulumi";
import type { HostStep, StepName } from "../host/steps.js";
import { bundledProvider } from "../providers/dynamic.js";

/** A step whose script needs a resource's outputs (a bucket's keys): known once that resource exists. */
export interface LateStep {
  name: StepName;
  /** Always: what makes it late is a resource's output, and those here are keys. */
  secret: true;
  late: pulumi.Output<HostStep>;
}

export interface HostConfigurationArgs {
  /** Address the steps connect to. */
  host: pulumi.Input<string>;
  /** @default 22 */
  port?: number;
  /** The deploy user, created by cloud-init (Vultr) or by you (an existing server). */
  user: string;
  /** Must be a secret Output. */
  privateKey: pulumi.Output<string>;
  /** The server's public SSH host key line: a server presenting another is refused before anything is sent. */
  hostKey: pulumi.Input<string>;
  steps: Array<HostStep | LateStep>;
  /** Values whose change re-runs every step: the server's id, so a new server is configured. */
  triggers: pulumi.Input<string>[];
  /** How long to keep dialling SSH before giving up with advice. @default 600 */
  dialTimeoutSeconds?: number;
  /** Resources the last step (the check through Caddy and TLS) waits for: the DNS records. */
  verifyAfter?: pulumi.Resource[];
  /** Resources the first step waits for: the firewall rules that let it reach SSH on its port. */
  after?: pulumi.Resource[];
}

/** How an operator accepts a server's new key, once checked on its console. */
export const HOST_KEY_FIX =
  'pin it: pulumi config set sshHostKey "<the line in the server\'s /etc/ssh/ssh_host_ed25519_key.pub>", then npm run up.';

class HostStepResource extends pulumi.dynamic.Resource {
  declare readonly output: pulumi.Output<string>;

  constructor(name: string, props: Record<string, pulumi.Input<unknown>>, opts: pulumi.CustomResourceOptions) {
    super(bundledProvider("host:Step"), name, { ...props, output: undefined }, opts, "host", "Step");
  }
}

export class HostConfiguration extends pulumi.ComponentResource {
  /** The last step's output (an API instance's /health/details, read on the host). */
  readonly verified: pulumi.Output<string>;

  constructor(name: string, args: HostConfigurationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:host:HostConfiguration", name, {}, opts);
    const target = pulumi.secret(
      pulumi.all([args.host, args.privateKey, args.hostKey]).apply(([host, privateKey, hostKey]) => ({
        host,
        port: args.port ?? 22,
        user: args.user,
        privateKey,
        hostKeys: [hostKey],
        hostKeyFix: HOST_KEY_FIX,
        dialTimeoutSeconds: args.dialTimeoutSeconds ?? 600,
      })),
    );
    let previous: pulumi.Resource | undefined;
    const hashOf = (s: HostStep | LateStep): pulumi.Input<string> =>
      "late" in s ? s.late.apply((l) => l.hash) : s.hash;
    for (const [index, step] of args.steps.entries()) {
      const last = index === args.steps.length - 1;
      const stepInput = pulumi
        .output("late" in step ? step.late : step)
        .apply(({ name: stepName, command, script, hash, upload, endsSession, rerunWhileOutputStarts }) => ({
          name: stepName,
          command,
          script,
          hash,
          ...(upload ? { upload } : {}),
          ...(endsSession ? { endsSession } : {}),
          ...(rerunWhileOutputStarts ? { rerunWhileOutputStarts } : {}),
        }));
      // A check runs again whenever a step before it does: their hashes are
      // its triggers (secret when one of those steps holds secrets).
      const earlier = "checksEarlierSteps" in step && step.checksEarlierSteps ? args.steps.slice(0, index) : [];
      const triggers: pulumi.Input<pulumi.Input<string>[]> = earlier.some((s) => s.secret)
        ? pulumi.secret([...args.triggers, ...earlier.map(hashOf)])
        : [...args.triggers, ...earlier.map(hashOf)];
      previous = new HostStepResource(
        `${name}-${step.name}`,
        { target, step: step.secret ? pulumi.secret(stepInput) : stepInput, triggers },
        {
          parent: this,
          dependsOn: [...(previous ? [previous] : (args.after ?? [])), ...(last ? (args.verifyAfter ?? []) : [])],
          additionalSecretOutputs: step.secret ? ["output"] : [],
        },
      );
    }
    this.verified = previous ? (previous as HostStepResource).output : pulumi.output("");
    this.registerOutputs({ verified: this.verified });
  }
}
