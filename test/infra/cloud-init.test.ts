// The user data a new Vultr instance boots with, as cloud-init reads it
// (YAML): the deploy user with its key, and the server's SSH host key that
// the program made, as the only host key (the image's own are deleted).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { cloudInit } from "../../infra/host/cloud-init.js";
import { hostKeyProvider } from "../../infra/providers/host-key.js";
import { KEYS } from "../harness/stack-configs.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

describe("cloud-init user data", () => {
  it("creates the deploy user and installs the program's host key as the server's only one", async () => {
    const { outs: hostKey } = await hostKeyProvider.create({ keyType: "ed25519" });
    const text = cloudInit("deploy", KEYS.publicKey, hostKey);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const data = parseYaml(text) as Record<string, any>;
    expect(data.users).toEqual([
      {
        name: "deploy",
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: [KEYS.publicKey],
      },
    ]);
    expect(data.ssh_deletekeys).toBe(true);
    // Exactly the ed25519 pair: with ssh_keys given, cloud-init generates no other type.
    expect(Object.keys(data.ssh_keys)).toEqual(["ed25519_private", "ed25519_public"]);
    expect(data.ssh_keys.ed25519_public).toBe(hostKey.publicKey);
    expect(data.ssh_keys.ed25519_private).toBe(hostKey.privateKey.trim() + "\n");
    // What cloud-init writes is a key OpenSSH reads, whose public half is the pinned one.
    const dir = scratchDir("cloud-init");
    try {
      const file = join(dir.path, "ssh_host_ed25519_key");
      writeFileSync(file, data.ssh_keys.ed25519_private, { mode: 0o600 });
      const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
      expect(derived.split(" ").slice(0, 2)).toEqual(hostKey.publicKey.split(" ").slice(0, 2));
      expect(readFileSync(file, "utf8")).toMatch(
        /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----\n$/,
      );
    } finally {
      dir.remove();
    }
    expect(ssh2.utils.parseKey(data.ssh_keys.ed25519_public)).not.toBeInstanceOf(Error);
  });
});
