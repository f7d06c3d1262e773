// The SSH transport against a real sshd on loopback: a server whose host key
// is not the pinned one is refused during the key exchange, before any login,
// so it receives nothing (no login attempt in its log, no command run, no
// file); the pinned key works; and a key is learnt, on purpose, without
// logging in (trust on first use).
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostKeyOf } from "../../infra/host/host-keys.js";
import { scanHostKey } from "../../infra/host/runner/host-key-scan.js";
import { HostKeyRefusedError, SshTransport, type SshTarget } from "../../infra/host/runner/ssh.js";
import { knownHostProvider, type KnownHostInputs } from "../../infra/providers/known-host.js";
import { makeKeyPair, startTestSshd, type TestSshd } from "../harness/sshd.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

let sshd: TestSshd;
const scratch = scratchDir("host-keys");
/** A key the server does not have, and one of another type. */
const otherKey = makeKeyPair(join(scratch.path, "other"));
const rsaKey = (() => {
  execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", join(scratch.path, "rsa")]);
  return execFileSync("cat", [join(scratch.path, "rsa.pub")], { encoding: "utf8" }).trim();
})();
const fingerprintOfFile = (line: string) => {
  const file = join(scratch.path, "probe.pub");
  writeFileSync(file, `${line}\n`);
  return execFileSync("ssh-keygen", ["-lf", file], { encoding: "utf8" }).split(" ")[1]!;
};

beforeAll(async () => {
  sshd = await startTestSshd();
});
afterAll(async () => {
  await sshd?.stop();
  scratch.remove();
});

const target = (hostKeys: string[]): SshTarget => ({
  host: "127.0.0.1",
  port: sshd.port,
  user: sshd.user,
  privateKey: sshd.privateKey,
  hostKeys,
  hostKeyFix: "pin it: pulumi config set sshHostKey ...",
  dialTimeoutSeconds: 10,
});

async function refusal(action: Promise<unknown>): Promise<HostKeyRefusedError> {
  try {
    await action;
  } catch (error) {
    if (error instanceof HostKeyRefusedError) return error;
    throw error;
  }
  throw new Error("expected the host key to be refused");
}

describe("the SSH transport with a pinned host key", () => {
  it("refuses a server presenting another key before logging in: no command, no stdin, no upload reaches it", async () => {
    const marker = join(sshd.dir, "refused-marker");
    const attemptsBefore = sshd.loginAttempts().length;
    const transport = new SshTransport(target([otherKey]));
    const error = await refusal(transport.exec(`cat > ${marker}`, "a secret on stdin"));
    const presented = fingerprintOfFile(sshd.hostKey);
    expect(error.message).toContain(
      `Refused 127.0.0.1:${sshd.port}: it presented the SSH host key ${presented} (ssh-ed25519)`,
    );
    expect(error.message).toContain(`the key pinned for it is ${fingerprintOfFile(otherKey)} (ssh-ed25519)`);
    expect(error.message).toContain("Nothing was sent to it");
    expect(error.message).toContain("pin it: pulumi config set sshHostKey");
    const upload = join(scratch.path, "upload.txt");
    writeFileSync(upload, "a file");
    await refusal(transport.upload(upload, join(sshd.dir, "uploaded.txt")));
    await transport.endSession();
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(sshd.dir, "uploaded.txt"))).toBe(false);
    // sshd saw the connections, and no login request on any of them.
    expect(sshd.log()).toMatch(/Connection from 127\.0\.0\.1/);
    expect(sshd.loginAttempts().length).toBe(attemptsBefore);
  });

  it("refuses at once, without the dial timeout's retries", async () => {
    const started = Date.now();
    await refusal(new SshTransport({ ...target([otherKey]), dialTimeoutSeconds: 600 }).exec("true"));
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("refuses a server with no key of the pinned type, saying so", async () => {
    const attemptsBefore = sshd.loginAttempts().length;
    const error = await refusal(new SshTransport(target([rsaKey])).exec("true"));
    expect(error.message).toContain("offered no host key of the pinned type (ssh-rsa)");
    expect(error.message).toContain(`the key pinned for it is ${fingerprintOfFile(rsaKey)} (ssh-rsa)`);
    expect(sshd.loginAttempts().length).toBe(attemptsBefore);
  });

  it("refuses to connect at all with no key pinned", async () => {
    await expect(new SshTransport(target([])).exec("true")).rejects.toThrow(
      /No SSH host key is pinned for 127\.0\.0\.1:\d+: refusing to connect/,
    );
  });

  it("logs in to the server presenting the pinned key, among others pinned", async () => {
    const marker = join(sshd.dir, "accepted-marker");
    const attemptsBefore = sshd.loginAttempts().length;
    const transport = new SshTransport(target([otherKey, sshd.hostKey]));
    try {
      const result = await transport.exec(`cat > ${marker} && echo written`, "on stdin");
      expect(result).toMatchObject({ code: 0, stdout: "written" });
    } finally {
      await transport.endSession();
    }
    expect(existsSync(marker)).toBe(true);
    expect(sshd.loginAttempts().length).toBeGreaterThan(attemptsBefore);
  });
});

describe("learning a server's key (trust on first use)", () => {
  it("reads the key the server presents, without any login attempt", async () => {
    const attemptsBefore = sshd.loginAttempts().length;
    const key = await scanHostKey("127.0.0.1", sshd.port, 10);
    expect(key).toEqual(hostKeyOf(sshd.hostKey));
    expect(key.fingerprint).toBe(fingerprintOfFile(sshd.hostKey));
    expect(sshd.loginAttempts().length).toBe(attemptsBefore);
  });

  it("fails after its timeout with what to check, when nothing answers", async () => {
    const closed = await import("../../scripts/loopback/ports.js").then((p) => p.freePort());
    await expect(scanHostKey("127.0.0.1", closed, 1)).rejects.toThrow(
      new RegExp(
        `Could not read the SSH host key of 127\\.0\\.0\\.1:${closed} within 1 s .*pulumi config set sshHostKey`,
      ),
    );
  });
});

describe("the host:KnownHost provider", () => {
  const inputs = (): KnownHostInputs => ({ host: "127.0.0.1", port: sshd.port, dialTimeoutSeconds: 10 });

  it("learns the key once, on create, and says so with its fingerprint", async () => {
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => printed.push(line);
    let created;
    try {
      created = await knownHostProvider.create(inputs());
    } finally {
      console.log = log;
    }
    const fingerprint = fingerprintOfFile(sshd.hostKey);
    expect(created.outs.publicKey).toBe(sshd.hostKey.split(" ").slice(0, 2).join(" "));
    expect(created.outs.fingerprint).toBe(fingerprint);
    expect(printed.join("\n")).toContain(
      `Trust on first use: 127.0.0.1:${sshd.port} presented the SSH host key ${fingerprint}`,
    );
    // A refresh keeps what was learnt.
    expect((await knownHostProvider.read!(created.id, { ...created.outs })).props).toEqual(created.outs);
  });

  it("learns again only for another address, never for another port (the same server's sshd moved) or dial timeout", async () => {
    const olds = { ...inputs(), publicKey: sshd.hostKey, fingerprint: "SHA256:x", learntAt: "2026-01-01T00:00:00Z" };
    expect(await knownHostProvider.diff("id", olds, inputs())).toEqual({ changes: false, changed: [] });
    expect(await knownHostProvider.diff("id", olds, { ...inputs(), dialTimeoutSeconds: 60 })).toMatchObject({
      changes: false,
    });
    expect(await knownHostProvider.diff("id", olds, { ...inputs(), host: "127.0.0.2" })).toMatchObject({
      changes: true,
      replaces: ["host"],
    });
    expect(await knownHostProvider.diff("id", olds, { ...inputs(), port: 2222 })).toEqual({
      changes: false,
      changed: [],
    });
  });

  it("checks its inputs", async () => {
    const checked = await knownHostProvider.check!({}, { host: "", port: 0, dialTimeoutSeconds: 10 });
    expect(checked.failures?.map((f) => f.property)).toEqual(["host", "port"]);
  });
});
