// A host step as a Pulumi resource: creating it runs the step over SSH,
// a change of its script or triggers runs it again, deleting it does
// nothing on the host (the server keeps what it was given).
import { randomUUID } from "node:crypto";
import { runStep } from "../host/runner/run.js";
import type { HostStep } from "../host/steps.js";
import { SshTransport, type SshTarget } from "../host/runner/ssh.js";
import { refuseUnansweredPortMove } from "../host/runner/ssh-port-probe.js";
import { sameInput } from "./diff.js";
import type { Provider } from "./provider.js";

export interface HostStepInputs {
  target: SshTarget;
  step: Pick<HostStep, "name" | "command" | "script" | "hash" | "upload" | "endsSession" | "rerunWhileOutputStarts">;
  /**
   * Values whose change must run the step again although its script did not
   * change: the instance id, so a replaced server is configured from scratch.
   */
  triggers: string[];
}

/**
 * The engine hands a dynamic provider its previous outputs as `olds`, so the
 * outputs repeat the inputs (marked secret where the inputs were).
 */
export interface HostStepOutputs extends HostStepInputs {
  /** What the step printed on its standard output. */
  output: string;
}

/** The host's address, user and port: a step moved to another machine runs again. */
const targetChanged = (a: SshTarget, b: SshTarget) => a.host !== b.host || a.port !== b.port || a.user !== b.user;

export const hostStepProvider: Provider<HostStepInputs, HostStepOutputs> = {
  async diff(_id, olds, news) {
    // Run in preview, before anything changes: a new sshPort where sshd does not answer is refused.
    await refuseUnansweredPortMove(olds.target, news.target, [
      ...new Set([...(olds.target?.hostKeys ?? []), ...(news.target?.hostKeys ?? [])]),
    ]);
    // The upload's local path differs between machines (a laptop, CI) and
    // does not matter: the step's hash covers what is uploaded.
    const pending = news.step.rerunWhileOutputStarts;
    const changes =
      (pending !== undefined && (olds.output ?? "").startsWith(pending)) ||
      olds.step?.hash !== news.step.hash ||
      !sameInput(olds.triggers, news.triggers) ||
      !olds.target ||
      targetChanged(olds.target, news.target);
    return { changes };
  },
  async create(inputs) {
    const output = await runStep(new SshTransport(inputs.target), inputs.step);
    // Not derived from the script: a secret step's script holds secrets, and ids are stored in plain text.
    return { id: `${inputs.step.name}-${randomUUID()}`, outs: { ...inputs, output } };
  },
  async update(_id, _olds, news) {
    return { outs: { ...news, output: await runStep(new SshTransport(news.target), news.step) } };
  },
  async delete() {
    // Removing the resource from the stack leaves the host as it is.
  },
};
