// `npm run ops -- ssh` and every other ops command reach a server only with
// its host key pinned: the system ssh client gets a known_hosts file holding
// the pinned key alone and checks it strictly; a server named by --host needs
// --host-key. Against a real sshd on loopback (a port other than 22).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { knownHostsFile, sshClientArgs } from "../../scripts/ops/ssh-client.js";
import { OpsError } from "../../scripts/ops/ops-error.js";
import { resolveTarget } from "../../scripts/ops/target.js";
import { makeKeyPair, startTestSshd, type TestSshd } from "../harness/sshd.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFsjYNldF9+1ZXtc7Fhp00BRJQzmOmWFRd1e0ELnaxJ1";

describe("the ssh client's command line", () => {
  it("trusts only the pinned key, strictly, in a known_hosts file of its own, whatever an ssh_config says", () => {
    const files = { identity: "/tmp/x/key", knownHosts: "/tmp/x/known_hosts" };
    expect(sshClientArgs({ host: "203.0.113.10", port: 22, user: "deploy" }, files, ["uptime"])).toEqual([
      "-F",
      "/dev/null",
      "-i",
      "/tmp/x/key",
      "-p",
      "22",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "UserKnownHostsFile=/tmp/x/known_hosts",
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "UpdateHostKeys=no",
      "--",
      "deploy@203.0.113.10",
      "uptime",
    ]);
  });

  it("names the host as ssh looks it up: bare on port 22, [host]:port on another", () => {
    expect(knownHostsFile("203.0.113.10", 22, [ED])).toBe(`203.0.113.10 ${ED}\n`);
    expect(knownHostsFile("2001:db8::10", 2222, [ED])).toBe(`[2001:db8::10]:2222 ${ED}\n`);
  });
});

describe("the target's pinned host key", () => {
  const named = (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
    resolveTarget({ host: "203.0.113.7", key: import.meta.filename, ...flags }, env);

  it("refuses a server named by --host without its key, saying where to find it", () => {
    const target = named({});
    expect(() => target.transport).toThrow(OpsError);
    expect(() => target.ssh).toThrow(
      /a server named by --host \(OPS_HOST\) needs its SSH host key: --host-key 'ssh-ed25519 AAAA\.\.\.' \(or OPS_SSH_HOST_KEY\)\. Take it from the stack \(npm run pulumi -- stack output sshHostKey\) or from the server's console/,
    );
  });

  it("takes --host-key, or OPS_SSH_HOST_KEY, and refuses one that is not a public key line", () => {
    expect(named({ hostKey: `${ED} root@server` }).ssh!.hostKeys).toEqual([ED]);
    expect(named({}, { OPS_SSH_HOST_KEY: ED }).ssh!.hostKeys).toEqual([ED]);
    expect(() => named({ hostKey: "AAAAC3Nz" }).ssh).toThrow(
      /the SSH host key to pin \(--host-key or OPS_SSH_HOST_KEY\) is not an OpenSSH public key line/,
    );
  });

  it("needs no key for a command that never reaches the server (token)", () => {
    expect(named({}, { OPS_JWT_SECRET: "s" }).jwtSecret()).toBe("s");
  });
});

describe("npm run ops -- ssh against a real sshd", () => {
  let sshd: TestSshd;
  const scratch = scratchDir("ops-ssh");
  beforeAll(async () => {
    sshd = await startTestSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    scratch.remove();
  });

  const opsSsh = (hostKey: string, command: string[]) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const args = ["--import", "tsx", "scripts/ops.ts", "ssh", "--host", "127.0.0.1", "--port", String(sshd.port)];
      args.push("--user", sshd.user, "--key", sshd.keyPath, "--host-key", hostKey, "--", ...command);
      // No agent: only the deploy key given is offered.
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: { ...process.env, SSH_AUTH_SOCK: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });

  it("refuses a server whose key is not the pinned one, before logging in", async () => {
    const marker = join(sshd.dir, "ops-ssh-refused");
    const attemptsBefore = sshd.loginAttempts().length;
    const result = await opsSsh(makeKeyPair(join(scratch.path, "other")), ["touch", marker]);
    expect(result.code, result.output).toBe(255);
    // The client compared the server's key with the pinned one (not merely found the server unknown).
    expect(result.output).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(result.output).toContain(
      `Host key for [127.0.0.1]:${sshd.port} has changed and you have requested strict checking.`,
    );
    expect(existsSync(marker)).toBe(false);
    expect(sshd.loginAttempts().length).toBe(attemptsBefore);
  }, 90_000);

  it("runs the command on the server presenting the pinned key", async () => {
    const marker = join(sshd.dir, "ops-ssh-accepted");
    const result = await opsSsh(sshd.hostKey, ["touch", marker]);
    expect(result.code, result.output).toBe(0);
    expect(existsSync(marker)).toBe(true);
  }, 90_000);
});
