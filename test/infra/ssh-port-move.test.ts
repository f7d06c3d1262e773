// config sshPort changed on a deployed server: the host steps' diff (run by
// `pulumi preview` and `up` before anything changes) refuses the move unless
// sshd already answers on the new port, from here or on the server itself
// through the old one, with a message naming both ports and the way to move.
// Against real sshd servers on loopback: the "server" listens on 127.0.0.2,
// so a port open only on the server's own loopback (127.0.0.1) is not
// reachable "from here" at the server's address.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshPortMove, sshPortMoveRefusal } from "../../infra/host/ssh-port-move.js";
import { hostStepProvider, type HostStepInputs } from "../../infra/providers/host-step.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";

describe("sshPortMove", () => {
  const target = { host: "203.0.113.10", port: 22 };

  it("is the same host on another port", () => {
    expect(sshPortMove(target, { ...target, port: 2222 })).toEqual({ host: "203.0.113.10", from: 22, to: 2222 });
  });

  it("is nothing for a first run, the same port, another host, or a target the preview does not know yet", () => {
    expect(sshPortMove(undefined, target)).toBeUndefined();
    expect(sshPortMove(target, { ...target })).toBeUndefined();
    expect(sshPortMove(target, { host: "203.0.113.11", port: 2222 })).toBeUndefined();
    expect(sshPortMove(target, "04da6b54-80e4-46f7-96ec-b56ff0331ba9")).toBeUndefined();
  });

  it("is refused with both ports, the order that keeps the old port open, and the way back", () => {
    const message = sshPortMoveRefusal({ host: "203.0.113.10", from: 22, to: 2222 });
    expect(message).toMatch(/^sshPort changed from 22 to 2222, but no SSH server answers on 203\.0\.113\.10:2222/);
    expect(message).toContain(
      "printf 'Port 22\\nPort 2222\\n' | sudo tee /etc/ssh/sshd_config.d/00-platform-port.conf",
    );
    expect(message).toContain("sudo ufw allow from <each adminCidrs entry> to any port 2222 proto tcp");
    expect(message).toContain('remove "Port 22"');
    expect(message).toContain("pulumi config set sshPort 22");
    expect(message).toContain('docs/operations.md, "Move SSH to another port"');
    expect(message).not.toMatch(/adminCidrs\)/);
  });
});

describe("the host step provider's diff when sshPort changed", () => {
  /** The deployed server's sshd, on its old port. */
  let server: TestSshd;
  /** An sshd on the server's own loopback only (127.0.0.1), as one behind a firewall that is not open yet. */
  let loopbackOnly: TestSshd;
  /** An sshd at the server's address on another port: reachable from here. */
  let alsoOnServer: TestSshd;

  beforeAll(async () => {
    [server, loopbackOnly, alsoOnServer] = await Promise.all([
      startTestSshd({ listenAddress: "127.0.0.2" }),
      startTestSshd(),
      startTestSshd({ listenAddress: "127.0.0.2" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), loopbackOnly?.stop(), alsoOnServer?.stop()]);
  });

  const inputs = (port: number): HostStepInputs => ({
    target: {
      host: "127.0.0.2",
      port,
      user: server.user,
      privateKey: server.privateKey,
      // Every sshd here has a host key of its own: the old port's is the pinned one.
      hostKeys: [server.hostKey],
      hostKeyFix: "pin it",
      dialTimeoutSeconds: 600,
    },
    step: { name: "bootstrap", command: "bash -s", script: "echo bootstrap", hash: "a".repeat(64) },
    triggers: ["instance-1"],
  });
  const diffTo = (port: number) =>
    hostStepProvider.diff("id", { ...inputs(server.port), output: "done" }, inputs(port));

  it("refuses a port where no sshd answers, naming both ports, before any login on the new one", async () => {
    const nowhere = await freePort();
    const started = Date.now();
    await expect(diffTo(nowhere)).rejects.toThrow(
      `sshPort changed from ${server.port} to ${nowhere}, but no SSH server answers on 127.0.0.2:${nowhere}`,
    );
    // A few seconds' probe, not sshDialTimeout's 600.
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("runs the steps again on a port sshd answers on the server itself, though not from here yet", async () => {
    expect(await diffTo(loopbackOnly.port)).toEqual({ changes: true });
    // Asked on the server, through the old port (the pinned one): a login there, none on the new port.
    expect(server.loginAttempts().length).toBeGreaterThan(0);
    expect(loopbackOnly.loginAttempts()).toEqual([]);
  });

  it("runs the steps again on a port sshd answers on from here", async () => {
    expect(await diffTo(alsoOnServer.port)).toEqual({ changes: true });
    expect(alsoOnServer.loginAttempts()).toEqual([]);
  });

  it("probes nothing when the port did not change", async () => {
    const before = server.loginAttempts().length;
    expect(await diffTo(server.port)).toEqual({ changes: false });
    expect(server.loginAttempts().length).toBe(before);
  });
});
