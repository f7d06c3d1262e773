// The SSH host key a server this program created really presents: the
// first-boot key (cloud-init's, from the user data, which Vultr keeps
// handing out) replaced by a key that exists only in the state and on the
// server (host:HostKey, one per server). Creating it runs the host-key step
// (templates/host/steps/host-key.sh) over a connection that accepts the key
// the server has now, then confirms the new key on a new connection that
// accepts it alone; only then is it this resource's output, which every host
// step and ops command pins. A failure anywhere leaves a server whose key is
// still accepted next time: the new key is in the state before the step
// runs, and the old one stays accepted until the new one was confirmed.
import { hostKeyOf, type HostKey } from "../host/host-keys.js";
import { runStep } from "../host/runner/run.js";
import type { HostStep } from "../host/steps.js";
import { HostKeyRefusedError, SshTransport, type SshTarget } from "../host/runner/ssh.js";
import { refuseUnansweredPortMove } from "../host/runner/ssh-port-probe.js";
import { sameInput } from "./diff.js";
import type { Provider } from "./provider.js";

export interface HostKeyInstallInputs {
  /** Where the server is; which host keys to accept is this provider's to decide (keysAccepted). */
  target: Omit<SshTarget, "hostKeys">;
  /** The key the server booted with (in its user data): accepted only until a new key is confirmed. */
  firstBootKey: string;
  /** The key to install, public line (host:HostKey's, made for this server). */
  key: string;
  /** The host-key step: a secret input, its script carries the key's private half. */
  step: Pick<HostStep, "name" | "command" | "script" | "hash">;
  /** The instance id: a new server boots with the first-boot key again, and gets its own key installed. */
  triggers: string[];
}

export interface HostKeyInstallOutputs extends HostKeyInstallInputs {
  /** The key the server was confirmed to present, on a connection that accepted no other: the pin. */
  installedKey: string;
  /** Its fingerprint, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** What the step printed. */
  output: string;
}

/** How long the confirmation keeps dialling: sshd reloads in a moment. */
const CONFIRM_DIAL_SECONDS = 60;

/**
 * The keys the server may present while the new key goes in: the new key
 * (an earlier attempt may have installed it before it failed), and the key
 * it has now: the one confirmed last on this server, or, on a server with
 * none confirmed yet (a first install, a new instance), the first-boot key.
 * Once a key was confirmed, the first-boot key opens nothing again: anyone
 * who read the user data holds it.
 */
export function keysAccepted(
  news: Pick<HostKeyInstallInputs, "key" | "firstBootKey" | "triggers">,
  olds?: Partial<HostKeyInstallOutputs>,
): string[] {
  const sameServer = olds?.installedKey !== undefined && sameInput(olds.triggers, news.triggers);
  return [...new Set([news.key, sameServer ? olds.installedKey! : news.firstBootKey])];
}

/** What the operator reads in `pulumi up`'s output once the key is in place. */
export function installedMessage(where: string, installed: HostKey, firstBoot: HostKey): string {
  return (
    `The SSH host key of ${where} is now ${installed.fingerprint} (${installed.type}), made by this program and kept ` +
    `only in the stack's state (output sshHostKey). The first-boot key ${firstBoot.fingerprint}, which the server's ` +
    "user data still holds, opens nothing any more. An ssh known_hosts entry for the old key must go " +
    `(ssh-keygen -R ${where.replace(/:22$/, "")}); npm run ops -- ssh pins the new one by itself.`
  );
}

/** The new key is in place but the server does not present it: nothing is pinned to it. */
export function notConfirmedMessage(where: string, installed: HostKey, error: HostKeyRefusedError): string {
  const presented = error.refusal.presented;
  return (
    `The host-key step installed ${installed.fingerprint} on ${where}, but a new connection was not offered it ` +
    `(${presented ? `the server presented ${presented.fingerprint} (${presented.type})` : "no key of its type"}). ` +
    "Nothing is pinned to the new key: the next npm run up runs the step again, accepting the old key or the new one. " +
    "On the server: sudo systemctl status ssh, and ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub."
  );
}

async function install(news: HostKeyInstallInputs, accepted: string[]): Promise<HostKeyInstallOutputs> {
  const transport = new SshTransport({ ...news.target, hostKeys: accepted });
  let output: string;
  try {
    output = await runStep(transport, news.step);
  } finally {
    // Its connection accepted the old key: no later command rides on it.
    await transport.endSession();
  }
  const installed = hostKeyOf(news.key);
  const where = `${news.target.host}:${news.target.port}`;
  try {
    await new SshTransport({ ...news.target, hostKeys: [news.key], dialTimeoutSeconds: CONFIRM_DIAL_SECONDS }).exec(
      "true",
    );
  } catch (error) {
    if (error instanceof HostKeyRefusedError)
      throw new Error(notConfirmedMessage(where, installed, error), { cause: error });
    throw error;
  }
  // The provider's output reaches the operator's terminal (the engine shows it under the stack).
  console.log(installedMessage(where, installed, hostKeyOf(news.firstBootKey)));
  return { ...news, installedKey: news.key, fingerprint: installed.fingerprint, output };
}

export const hostKeyInstallProvider: Provider<HostKeyInstallInputs, HostKeyInstallOutputs> = {
  async diff(_id, olds, news) {
    // As the host steps: a new sshPort where sshd does not answer is refused in preview.
    await refuseUnansweredPortMove(olds.target, news.target, keysAccepted(news, olds));
    // Not the target: the key stays on the server whatever port or address reaches it.
    const changes = !olds.installedKey || olds.key !== news.key || !sameInput(olds.triggers, news.triggers);
    return { changes };
  },
  async create(inputs) {
    const outs = await install(inputs, keysAccepted(inputs));
    return { id: `host-key-install-${outs.fingerprint.slice(7, 23)}`, outs };
  },
  async update(_id, olds, news) {
    return { outs: await install(news, keysAccepted(news, olds)) };
  },
  async read(id, props) {
    // What was confirmed stays the pin; a refresh never asks whoever answers today.
    return { id, props };
  },
  async delete() {
    // The server keeps its key.
  },
};
