// The host:HostKey provider (the SSH host key the program makes for a new
// server), through the contract every provider implements: check, diff,
// create, read, delete; and its place in the providers bundle's registry.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { parseHostKey } from "../../infra/host/host-keys.js";
import { hostKeyProvider, wellFormedKeyPair } from "../../infra/providers/host-key.js";
import { providers } from "../../infra/providers/registry.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

describe("the host:HostKey provider", () => {
  it("is in the registry the providers bundle serves, beside host:KnownHost", () => {
    expect(providers["host:HostKey"]).toBe(hostKeyProvider);
    expect(providers["host:KnownHost"]).toBeDefined();
  });

  it("accepts ed25519 only", async () => {
    expect(await hostKeyProvider.check!({}, { keyType: "ed25519" })).toEqual({ inputs: { keyType: "ed25519" } });
    const checked = await hostKeyProvider.check!({}, { keyType: "dsa" } as never);
    expect(checked.failures).toEqual([{ property: "keyType", reason: 'must be one of "ed25519"' }]);
  });

  it("creates an ed25519 pair OpenSSH reads: a private key without passphrase whose public half is the output", async () => {
    const { id, outs } = await hostKeyProvider.create({ keyType: "ed25519" });
    expect(outs.keyType).toBe("ed25519");
    const pub = parseHostKey(outs.publicKey);
    expect("problem" in pub ? pub.problem : pub.type).toBe("ssh-ed25519");
    // The pinned form as it is: type and key, no comment (the stack output sshHostKey).
    expect(outs.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    // The id comes from the public half only.
    expect(outs.publicKey).toContain(id.replace("host-key-", ""));
    const dir = scratchDir("host-key");
    try {
      const file = join(dir.path, "key");
      writeFileSync(file, outs.privateKey, { mode: 0o600 });
      // -P '' fails on a key with a passphrase.
      const derived = execFileSync("ssh-keygen", ["-y", "-P", "", "-f", file], { encoding: "utf8" }).trim();
      expect(derived.split(" ").slice(0, 2)).toEqual(outs.publicKey.split(" ").slice(0, 2));
    } finally {
      dir.remove();
    }
  });

  it("makes a new key each time it is created", async () => {
    const a = await hostKeyProvider.create({ keyType: "ed25519" });
    const b = await hostKeyProvider.create({ keyType: "ed25519" });
    expect(a.outs.publicKey).not.toBe(b.outs.publicKey);
    expect(a.id).not.toBe(b.id);
  });

  it("keeps its key: no change for the same inputs, a refresh keeps it, delete touches nothing", async () => {
    const { id, outs } = await hostKeyProvider.create({ keyType: "ed25519" });
    expect(await hostKeyProvider.diff(id, outs, { keyType: "ed25519" })).toEqual({ changes: false, changed: [] });
    expect(await hostKeyProvider.read!(id, outs)).toEqual({ id, props: outs });
    await expect(hostKeyProvider.delete(id, outs)).resolves.toBeUndefined();
  });

  it("replaces the key only for another key type", async () => {
    const { id, outs } = await hostKeyProvider.create({ keyType: "ed25519" });
    const other = { keyType: "rsa" } as never;
    expect(await hostKeyProvider.diff(id, outs, other)).toMatchObject({ changes: true, replaces: ["keyType"] });
  });

  it("makes a new key for a new server, when it is made for one (the key installed on a running server)", async () => {
    const { id, outs } = await hostKeyProvider.create({ keyType: "ed25519", server: "instance-1" });
    expect(outs.server).toBe("instance-1");
    expect(await hostKeyProvider.diff(id, outs, { keyType: "ed25519", server: "instance-1" })).toMatchObject({
      changes: false,
    });
    expect(await hostKeyProvider.diff(id, outs, { keyType: "ed25519", server: "instance-2" })).toMatchObject({
      changes: true,
      replaces: ["server"],
    });
    // The first-boot key names no server: a state from before this input keeps its key.
    const firstBoot = await hostKeyProvider.create({ keyType: "ed25519" });
    expect(await hostKeyProvider.diff(firstBoot.id, { ...firstBoot.outs }, { keyType: "ed25519" })).toMatchObject({
      changes: false,
    });
  });
});

/**
 * A pair ssh2's generator made (1.17): its ed25519 public half starts with a
 * zero byte, written 31 bytes long. A made-up key, kept as found.
 */
const MALFORMED_PAIR = {
  public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAHyzIj5gpTXdo9cAHseLWhBxkR+sWzCWJcaN3+eu3ggI=",
  private:
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz\nc2gtZWQyNTUxOQAAAB8syI+YKU13aPXAB7Hi1oQcZEfrFswliXGjd/nrt4ICAAAA\niAfME3MHzBNzAAAAC3NzaC1lZDI1NTE5AAAAHyzIj5gpTXdo9cAHseLWhBxkR+sW\nzCWJcaN3+eu3ggIAAAA/Os3c2GbMWt/WcQuqGpJ1qghdJUUt2MaNoTsmPuIUTiws\nyI+YKU13aPXAB7Hi1oQcZEfrFswliXGjd/nrt4ICAAAAAAECAwQFBgc=\n-----END OPENSSH PRIVATE KEY-----\n",
};

describe("a well-formed key pair", () => {
  it("drops a pair OpenSSH cannot load and makes another", () => {
    const dir = scratchDir("malformed-key");
    try {
      const file = join(dir.path, "key");
      writeFileSync(file, MALFORMED_PAIR.private, { mode: 0o600 });
      // What sshd would meet at boot with this key.
      expect(() => execFileSync("ssh-keygen", ["-y", "-P", "", "-f", file], { stdio: "pipe" })).toThrow();
    } finally {
      dir.remove();
    }
    const good = ssh2.utils.generateKeyPairSync("ed25519");
    const made = [MALFORMED_PAIR, MALFORMED_PAIR, good];
    let calls = 0;
    expect(wellFormedKeyPair(() => made[calls++]!)).toBe(good);
    expect(calls).toBe(3);
  });

  it("gives up, saying so, rather than loop", () => {
    expect(() => wellFormedKeyPair(() => MALFORMED_PAIR)).toThrow(
      /could not make a well-formed SSH key pair in 16 attempts/,
    );
  });
});
