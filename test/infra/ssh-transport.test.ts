// What the SSH transport carries, against a real sshd on loopback: a
// command's output (trimmed, as every caller reads it), stdin and exit code;
// output streamed as it comes; a held command that ends when its input
// closes; an upload into a folder it has to make; a download; and one login
// for all of it, until the session is ended.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshTransport } from "../../infra/host/runner/ssh.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

let sshd: TestSshd;
let transport: SshTransport;
const scratch = scratchDir("ssh-transport");

beforeAll(async () => {
  sshd = await startTestSshd();
  transport = new SshTransport({
    host: "127.0.0.1",
    port: sshd.port,
    user: sshd.user,
    privateKey: sshd.privateKey,
    hostKeys: [sshd.hostKey],
    hostKeyFix: "none: the test's own server",
    dialTimeoutSeconds: 10,
  });
});
afterAll(async () => {
  await transport?.endSession();
  await sshd?.stop();
  scratch.remove();
});

describe("the SSH transport", () => {
  it("runs a command with its stdin, and returns its exit code and trimmed output", async () => {
    const result = await transport.exec("tr a-z A-Z; echo 'to stderr ' >&2; exit 3", "from stdin\n");
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("FROM STDIN");
    // This sshd logs its debug lines to the session's stderr first.
    expect(result.stderr).toMatch(/(^|\n)to stderr$/);
  });

  it("streams the output as it comes", async () => {
    const streamed = { stdout: "", stderr: "" };
    const result = await transport.exec("echo one; echo two >&2", undefined, {
      stdout: (chunk) => (streamed.stdout += chunk),
      stderr: (chunk) => (streamed.stderr += chunk),
    });
    expect(result.code).toBe(0);
    expect(streamed.stdout).toBe("one\n");
    expect(streamed.stderr).toMatch(/(^|\n)two\n$/);
  });

  it("holds a command until its input closes", async () => {
    const held = await transport.hold("cat; echo closed", "first ");
    held.end("last");
    expect(await held.result).toMatchObject({ code: 0, stdout: "first lastclosed\n" });
  });

  it("uploads into a folder it makes, and downloads", async () => {
    const local = join(scratch.path, "local.txt");
    writeFileSync(local, "carried over SFTP\n");
    const remote = join(sshd.dir, "made/for/the/upload/file.txt");
    await transport.upload(local, remote);
    expect(readFileSync(remote, "utf8")).toBe("carried over SFTP\n");
    mkdirSync(join(scratch.path, "back"));
    await transport.download(remote, join(scratch.path, "back/file.txt"));
    expect(readFileSync(join(scratch.path, "back/file.txt"), "utf8")).toBe("carried over SFTP\n");
  });

  it("logs in once for every command, and again only after the session ends", async () => {
    await transport.endSession();
    const before = sshd.loginAttempts().length;
    await transport.exec("true");
    const once = sshd.loginAttempts().length;
    await Promise.all([
      transport.exec("true"),
      transport.exec("true"),
      transport.upload(join(scratch.path, "local.txt"), join(sshd.dir, "again.txt")),
    ]);
    expect(sshd.loginAttempts().length).toBe(once);
    expect(once).toBeGreaterThan(before);
    await transport.endSession();
    await transport.exec("true");
    expect(sshd.loginAttempts().length).toBeGreaterThan(once);
  });
});
