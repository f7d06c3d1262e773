// An interactive shell on the host as the deploy user, with the stack's key
// (written to a private temporary file for the system's ssh client).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpsError, type Target } from "../target.js";

export function ssh(target: Target, command: string[]): number {
  if (!target.ssh) throw new OpsError("the local stack runs on this machine: no ssh needed");
  const dir = mkdtempSync(join(tmpdir(), "ops-ssh-"));
  // Ctrl-C or a closed terminal reaches ssh; node must live on to remove the key file.
  const ignore = () => undefined;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGHUP", "SIGTERM"];
  for (const signal of signals) process.on(signal, ignore);
  try {
    const key = join(dir, "key");
    writeFileSync(key, target.ssh.privateKey, { mode: 0o600 });
    const { host, port, user } = target.ssh;
    const result = spawnSync(
      "ssh",
      ["-i", key, "-p", String(port), "-o", "IdentitiesOnly=yes", `${user}@${host}`, ...command],
      {
        stdio: "inherit",
      },
    );
    return result.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const signal of signals) process.off(signal, ignore);
  }
}
