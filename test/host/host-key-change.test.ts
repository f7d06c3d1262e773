// A server whose SSH host key changed after the first `pulumi up` (a
// reinstall, or another machine at its address): `up` and CI's reach check
// refuse it, naming both fingerprints, until the operator pins the new key.
// On the deployed host of test/harness/deployed-host.ts, whose key (and the
// stack's pin) the next file gets back as they were.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { PRODUCTION_PATHS } from "../../infra/host/steps.js";
import {
  DEPLOY_TIMEOUT_MS,
  deployedHost,
  deployLogins,
  fingerprint,
  hostKeyNow,
  POLICY_PACK,
  resetBeforeNextFile,
  ROOT,
  savedHostKeys,
} from "../harness/deployed-host.js";
import { run } from "../harness/host-exec.js";
import type { EngineStack } from "../harness/pulumi-engine.js";
import type { SystemdHost } from "../harness/systemd-host.js";

let host: SystemdHost;
let root: SshTransport;
let byo: EngineStack | undefined;

beforeAll(async () => {
  ({ host, root, byo } = await deployedHost());
  // The key the stack pinned, on the host and in the stack, for the files after this one.
  const pinned = hostKeyNow();
  const restoreHostKeys = savedHostKeys();
  resetBeforeNextFile(async () => {
    await restoreHostKeys();
    await byo!.ok(["config", "set", "sshHostKey", pinned]);
    await byo!.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
  });
}, DEPLOY_TIMEOUT_MS);

describe("a server whose SSH host key changed after the first up", () => {
  // A reinstall, as SSH sees it; or another machine answering at the address.
  let before: string;
  let after: string;
  beforeAll(async () => {
    before = hostKeyNow();
    const rekeyed = await run(root, "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh");
    expect(rekeyed.code, rekeyed.output).toBe(0);
    after = hostKeyNow();
  }, 120_000);

  it("makes the next up fail before any step runs, naming both fingerprints and how to accept the change", async () => {
    expect(after).not.toBe(before);
    const logins = await deployLogins(root);
    const env = (await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim();
    // A change that must run the stack step on the host.
    await byo!.ok(["config", "set", "logLevel", "warn"]);
    const refused = await byo!.run(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toContain(
      `Refused ${host.address}:22: it presented the SSH host key ${fingerprint(after)} (ssh-ed25519), ` +
        `but the key pinned for it is ${fingerprint(before)} (ssh-ed25519). Nothing was sent to it`,
    );
    expect(refused.stdout).toContain('pin it: pulumi config set sshHostKey "<the line in the server');
    // No login, and the host's settings are as they were.
    expect(await deployLogins(root)).toBe(logins);
    expect((await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim()).toBe(env);
  }, 600_000);

  it("makes CI's reach check fail in seconds, naming both fingerprints", () => {
    const check = spawnSync("bash", [join(ROOT, "scripts/ci/check-ssh-reach.sh"), byo!.name], {
      env: byo!.env,
      encoding: "utf8",
    });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(
      `SSH at ${host.address}:22 answers with the host key ${fingerprint(after)}, not the pinned ${fingerprint(before)}`,
    );
  }, 120_000);

  it("takes the new key once the operator pins it (config sshHostKey), and deploys", async () => {
    await byo!.ok(["config", "set", "sshHostKey", after]);
    const accepted = await byo!.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(accepted.stdout).toMatch(/platform-host-stack\s+updated/);
    expect(accepted.stdout).not.toContain("Trust on first use");
    expect((await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim()).toBe("LOG_LEVEL=warn");
    const outputs = JSON.parse((await byo!.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(outputs.sshHostKey).toBe(after);
  }, 600_000);
});
