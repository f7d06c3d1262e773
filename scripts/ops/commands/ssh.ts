// An interactive shell on the host as the deploy user, with the stack's key
// and the server's pinned host key (written to private temporary files for
// the system's ssh client, scripts/ops/ssh-client.ts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownHostsFile, sshClientArgs } from "../ssh-client.js";
import { OpsError } from "../ops-error.js";
import type { Target } from "../target.js";

export function ssh(target: Target, command: string[]): number {
  if (!target.ssh) throw new OpsError("the local stack runs on this machine: no ssh needed");
  const dir = mkdtempSync(join(tmpdir(), "ops-ssh-"));
  // Ctrl-C or a closed terminal reaches ssh; node must live on to remove the key file.
  const ignore = () => undefined;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGHUP", "SIGTERM"];
  for (const signal of signals) process.on(signal, ignore);
  try {
    const files = { identity: join(dir, "key"), knownHosts: join(dir, "known_hosts") };
    const { host, port, privateKey, hostKeys } = target.ssh;
    writeFileSync(files.identity, privateKey, { mode: 0o600 });
    writeFileSync(files.knownHosts, knownHostsFile(host, port, hostKeys), { mode: 0o600 });
    const result = spawnSync("ssh", sshClientArgs(target.ssh, files, command), { stdio: "inherit" });
    return result.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const signal of signals) process.off(signal, ignore);
  }
}
