// An sshd of the benchmark's own on loopback (a fresh host key and login key
// in a scratch folder), and the project's SSH transport logged in to it: the
// connection `ops backup` tunnels through, without a server.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { SshTransport } from "../infra/host/runner/ssh.js";
import { freePort } from "../scripts/loopback/ports.js";
import { ManagedProcess } from "../scripts/loopback/process.js";
import { scratchDir } from "../scripts/loopback/tmp.js";

export interface LocalSshd {
  transport: SshTransport;
  /** A scratch folder removed by stop(). */
  dir: string;
  stop(): Promise<void>;
}

export async function startLocalSshd(): Promise<LocalSshd> {
  const dir = scratchDir("bench-sshd");
  const key = join(dir.path, "key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir.path, "host_key")]);
  writeFileSync(join(dir.path, "authorized_keys"), readFileSync(`${key}.pub`));
  const port = await freePort();
  writeFileSync(
    join(dir.path, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir.path, "host_key")}`,
      `PidFile ${join(dir.path, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir.path, "authorized_keys")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowTcpForwarding local",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  const sshd = new ManagedProcess("sshd", "/usr/sbin/sshd", ["-D", "-e", "-f", join(dir.path, "sshd_config")]);
  const transport = new SshTransport({
    host: "127.0.0.1",
    port,
    user: userInfo().username,
    privateKey: readFileSync(key, "utf8"),
    hostKeys: [readFileSync(join(dir.path, "host_key.pub"), "utf8")],
    hostKeyFix: "this sshd's key is made above",
    dialTimeoutSeconds: 20,
  });
  const stop = async () => {
    await transport.endSession();
    await sshd.stop();
    dir.remove();
  };
  try {
    await sshd.waitFor(/Server listening/);
  } catch (error) {
    await stop();
    throw error;
  }
  return { transport, dir: dir.path, stop };
}
