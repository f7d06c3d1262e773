// Whether sshd answers on the port a deployed server's steps are about to
// move to (infra/host/ssh-port-move.ts): its banner ("SSH-2.0-...") within
// a few seconds, read from here, or else on the server itself through the
// port the steps used so far (the Vultr firewall opens the new port only
// during the deploy, so from here it may not answer yet). Nothing is sent
// but a TCP connection; the old port's connection is pinned like any other.
import { Socket } from "node:net";
import { sshPortMove, sshPortMoveRefusal, type SshPortMove } from "../ssh-port-move.js";
import { HostKeyRefusedError, SshTransport, type SshTarget } from "./ssh.js";

const BANNER_TIMEOUT_MS = 5_000;
/** A dead old port is no reason to wait the whole sshDialTimeout. */
const OLD_PORT_DIAL_SECONDS = 15;

/** Answers found, by move: the engine asks once per host step, the answer is the same. */
const answered = new Map<string, Promise<boolean>>();

/**
 * Throws the refusal (naming both ports and the way to move) when a step's
 * new target is its old host on another port where sshd does not answer.
 * `pinned`: the keys the old port may present (the old and the new pins).
 */
export async function refuseUnansweredPortMove(olds: unknown, news: unknown, pinned: string[]): Promise<void> {
  const move = sshPortMove(olds, news);
  if (!move) return;
  const via: SshTarget = { ...(olds as SshTarget), privateKey: (news as SshTarget).privateKey, hostKeys: pinned };
  if (!(await sshdAnswers(move, via))) throw new Error(sshPortMoveRefusal(move));
}

/** `via` is the steps' target as it was: the old port, and the keys pinned for it. */
export function sshdAnswers(move: SshPortMove, via: SshTarget): Promise<boolean> {
  const key = `${move.host}:${move.from}->${move.to}`;
  let found = answered.get(key);
  if (!found) {
    found = probe(move, via);
    answered.set(key, found);
    // Only a yes is kept: the operator may fix the server and run again in this process.
    found.then(
      (yes) => yes || answered.delete(key),
      () => answered.delete(key),
    );
  }
  return found;
}

async function probe(move: SshPortMove, via: SshTarget): Promise<boolean> {
  if (await bannerFrom(move.host, move.to)) return true;
  const transport = new SshTransport({ ...via, port: move.from, dialTimeoutSeconds: OLD_PORT_DIAL_SECONDS });
  try {
    const seconds = BANNER_TIMEOUT_MS / 1000;
    const result = await transport.exec(
      `timeout ${seconds} bash -c 'exec 3<>/dev/tcp/127.0.0.1/${move.to} && head -c 4 <&3' 2>/dev/null || true`,
    );
    return result.stdout.startsWith("SSH-");
  } catch (error) {
    // Another key on the old port is news the operator must read as it is.
    if (error instanceof HostKeyRefusedError) throw error;
    return false;
  } finally {
    await transport.endSession();
  }
}

/** True when `host:port` sends an SSH banner within a few seconds. */
export function bannerFrom(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let received = "";
    const done = (yes: boolean) => {
      socket.destroy();
      resolve(yes);
    };
    socket.setTimeout(BANNER_TIMEOUT_MS, () => done(false));
    socket.once("error", () => done(false));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (received.length >= 4) done(received.startsWith("SSH-"));
    });
    socket.once("end", () => done(false));
    socket.connect(port, host);
  });
}
