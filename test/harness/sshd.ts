// A real OpenSSH server on 127.0.0.1, run as this user (root here) with a
// host key, a client key pair and a config of its own in a scratch folder.
// Its log (sshd -e, DEBUG1) shows every connection and every login attempt.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/loopback/ports.js";
import { ManagedProcess } from "../../scripts/loopback/process.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

export interface TestSshd {
  port: number;
  user: string;
  /** The client's private key (authorized for `user`), and its file. */
  privateKey: string;
  keyPath: string;
  /** The server's public host key line, as in its .pub file. */
  hostKey: string;
  /** A scratch folder commands may write markers into. */
  dir: string;
  /** sshd's log so far. */
  log(): string;
  /** Lines where a client asked to log in (none when the connection ended before authentication). */
  loginAttempts(): string[];
  stop(): Promise<void>;
}

export function makeKeyPair(path: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path]);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

export async function startTestSshd(
  options: { allowTunnels?: boolean; /** @default "127.0.0.1" */ listenAddress?: string } = {},
): Promise<TestSshd> {
  const listen = options.listenAddress ?? "127.0.0.1";
  const scratch = scratchDir("sshd");
  const dir = scratch.path;
  const keyPath = join(dir, "client_key");
  writeFileSync(join(dir, "authorized_keys"), `${makeKeyPair(keyPath)}\n`);
  const hostKey = makeKeyPair(join(dir, "host_key"));
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      `ListenAddress ${listen}`,
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      // The scratch folder is under /tmp, which is world-writable.
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      `AllowTcpForwarding ${options.allowTunnels ? "local" : "no"}`,
      "Subsystem sftp internal-sftp",
      // DEBUG1 logs each userauth request: the proof that a client did or did not try to log in.
      "LogLevel DEBUG1",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  const sshd = new ManagedProcess("sshd", "/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")]);
  try {
    await sshd.waitFor(new RegExp(`Server listening on ${listen.replace(/\./g, "\\.")}`));
  } catch (error) {
    await sshd.stop();
    scratch.remove();
    throw error;
  }
  const log = () => sshd.output.join("\n");
  return {
    port,
    user: userInfo().username,
    privateKey: readFileSync(keyPath, "utf8"),
    keyPath,
    hostKey,
    dir,
    log,
    loginAttempts: () => sshd.output.filter((line) => /userauth-request for user/.test(line)),
    async stop() {
      await sshd.stop();
      scratch.remove();
    },
  };
}
