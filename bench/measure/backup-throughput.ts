// Backup throughput against its baseline: `ops backup`'s way (JetStream's
// snapshot API through an SSH tunnel) and a plain copy of the same bytes over
// the same SSH connection (SFTP), to a local sshd on loopback.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { SshTransport } from "../../infra/host/runner/ssh.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { openTunnel } from "../../scripts/ops/tunnel.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { ManagedProcess } from "../../scripts/loopback/process.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import type { Platform } from "../platform.js";
import { round } from "../stats.js";

export interface BackupThroughput {
  bytes: number;
  backupMBps: number;
  copyMBps: number;
  /** Backup over copy. */
  ratio: number;
}

export async function backupThroughput(platform: Platform): Promise<BackupThroughput> {
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
  try {
    await sshd.waitFor(/Server listening/);
    const natsPort = Number(new URL(platform.stack.nats.url.split(",")[0]!).port);
    const tunnel = await openTunnel(transport, natsPort);
    let taken;
    const started = performance.now();
    try {
      const nc = await connect({ servers: `127.0.0.1:${tunnel.port}`, token: platform.stack.nats.token });
      try {
        taken = await takeBackup(nc, join(dir.path, "backups"), "bench", () => undefined);
      } finally {
        await nc.close();
      }
    } finally {
      await tunnel.close();
    }
    const backupSeconds = (performance.now() - started) / 1000;
    const bytes = taken.manifest.streams.reduce((sum, s) => sum + s.bytes, 0);
    // The same files, copied back over the same connection.
    const copyStarted = performance.now();
    for (const stream of taken.manifest.streams)
      await transport.download(join(taken.dir, stream.file), join(dir.path, `copy-${stream.name}`));
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const mbps = (seconds: number) => round(bytes / 1e6 / seconds, 1);
    return {
      bytes,
      backupMBps: mbps(backupSeconds),
      copyMBps: mbps(copySeconds),
      ratio: round(copySeconds / backupSeconds, 2),
    };
  } finally {
    await transport.endSession();
    await sshd.stop();
    dir.remove();
  }
}
