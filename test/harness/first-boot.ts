// What cloud-init's ssh module (cc_ssh) does with a new server's user data on
// its first boot, done to a systemd test host: the image's host keys deleted
// (ssh_deletekeys, on unless false), the keys of ssh_keys written where sshd
// reads them (or, without ssh_keys, a key of each type generated), then sshd
// restarted, as it would first start after cloud-init. The deploy user the
// tests create themselves.
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Transport } from "../../infra/host/runner/transport.js";
import { parse as parseYaml } from "yaml";

/** cc_ssh's CONFIG_KEY_TO_FILE: each ssh_keys entry, its file in /etc/ssh and its mode. */
const KEY_FILES: Record<string, [string, number]> = {
  rsa_private: ["ssh_host_rsa_key", 0o600],
  rsa_public: ["ssh_host_rsa_key.pub", 0o644],
  ecdsa_private: ["ssh_host_ecdsa_key", 0o600],
  ecdsa_public: ["ssh_host_ecdsa_key.pub", 0o644],
  ed25519_private: ["ssh_host_ed25519_key", 0o600],
  ed25519_public: ["ssh_host_ed25519_key.pub", 0o644],
};

export async function applyFirstBootSshKeys(hostRoot: string, root: Transport, userData: string): Promise<void> {
  const data = parseYaml(userData) as { ssh_deletekeys?: boolean; ssh_keys?: Record<string, string> };
  const sshDir = join(hostRoot, "etc/ssh");
  if (data.ssh_deletekeys !== false) {
    for (const file of readdirSync(sshDir)) if (/^ssh_host_.*key/.test(file)) rmSync(join(sshDir, file));
  }
  if (data.ssh_keys) {
    for (const [entry, value] of Object.entries(data.ssh_keys)) {
      const target = KEY_FILES[entry];
      if (!target) throw new Error(`cloud-init would skip the ssh_keys entry "${entry}"`);
      writeFileSync(join(sshDir, target[0]), value, { mode: target[1] });
    }
  }
  const generate = data.ssh_keys ? "" : "ssh-keygen -A && ";
  const restarted = await root.exec(`${generate}systemctl restart ssh`);
  if (restarted.code !== 0)
    throw new Error(`restarting sshd after the first boot: ${restarted.stdout}${restarted.stderr}`);
}
