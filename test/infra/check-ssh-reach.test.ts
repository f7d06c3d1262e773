// CI's reach check (scripts/ci/check-ssh-reach.sh) says what is true about
// the server's SSH: the pinned key, another key of the pinned type, keys of
// other types only, or no answer at all. Against a real sshd on loopback
// (its only host key ed25519); `scripts/pulumi.sh` is stubbed to hand the
// script a stack's outputs and its sshPort.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostKeyOf } from "../../infra/host/host-keys.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const SCRIPT = join(import.meta.dirname, "../../scripts/ci/check-ssh-reach.sh");

let sshd: TestSshd;
let dir: { path: string; remove: () => void };

beforeAll(async () => {
  sshd = await startTestSshd();
  dir = scratchDir("reach");
  mkdirSync(join(dir.path, "scripts/ci"), { recursive: true });
  copyFileSync(SCRIPT, join(dir.path, "scripts/ci/check-ssh-reach.sh"));
});

afterAll(async () => {
  await sshd?.stop();
  dir?.remove();
});

/** Runs the check for a stack whose outputs are `outputs` and whose sshPort is `port`. */
function check(outputs: Record<string, string>, port: number) {
  const stub = join(dir.path, "scripts/pulumi.sh");
  writeFileSync(
    stub,
    [
      "#!/usr/bin/env bash",
      `case "$1 $2" in`,
      `  "stack output") printf '%s' '${JSON.stringify(outputs)}' ;;`,
      `  "config get") echo ${port} ;;`,
      "  *) exit 2 ;;",
      "esac",
      "",
    ].join("\n"),
  );
  chmodSync(stub, 0o755);
  return spawnSync("bash", [join(dir.path, "scripts/ci/check-ssh-reach.sh"), "prod"], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** A fresh key's public line, of `type`. */
function keyOf(type: "ed25519" | "rsa"): string {
  const keyDir = scratchDir("reach-key");
  try {
    const path = join(keyDir.path, "key");
    spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path]);
    return readFileSync(`${path}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  } finally {
    keyDir.remove();
  }
}

describe("scripts/ci/check-ssh-reach.sh", () => {
  it("passes when the server presents the pinned key", () => {
    const result = check({ ipv4: "127.0.0.1", sshHostKey: sshd.hostKey }, sshd.port);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `SSH at 127.0.0.1:${sshd.port} answers, with the pinned host key ${hostKeyOf(sshd.hostKey).fingerprint}`,
    );
  });

  it("names both fingerprints when the server presents another key of the pinned type", () => {
    const other = keyOf("ed25519");
    const result = check({ ipv4: "127.0.0.1", sshHostKey: other }, sshd.port);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `answers with the host key ${hostKeyOf(sshd.hostKey).fingerprint}, not the pinned ${hostKeyOf(other).fingerprint}`,
    );
  });

  it("says the server answers but offers no key of the pinned type, and what it offers, rather than 'cannot reach'", () => {
    const rsa = keyOf("rsa");
    const result = check({ ipv4: "127.0.0.1", sshHostKey: rsa }, sshd.port);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `SSH at 127.0.0.1:${sshd.port} answers, but offers no host key of the pinned type (ssh-rsa); ` +
        `the pinned key is ${hostKeyOf(rsa).fingerprint}.`,
    );
    expect(result.stderr).toContain(`It offers: ${hostKeyOf(sshd.hostKey).fingerprint} (ssh-ed25519)`);
    expect(result.stderr).not.toContain("cannot reach");
  });

  it("says it cannot reach SSH when nothing answers", async () => {
    const result = check({ ipv4: "127.0.0.1", sshHostKey: sshd.hostKey }, await freePort());
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^This machine cannot reach SSH at 127\.0\.0\.1:\d+ \(10 s\)/m);
  });

  it("passes a stack with no server yet", () => {
    const result = check({}, 22);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("stack prod has no server address yet: nothing to check");
  });
});
