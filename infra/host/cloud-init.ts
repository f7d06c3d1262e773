// Cloud-init user data for a new instance: the deploy user with its key and
// sudo, so every host step connects as that user from the first one (the
// bootstrap then turns root's SSH login off), and the server's SSH host key,
// made by the program, so the steps can pin it from the first connection.
// Holds a private key: the program passes it only as a secret. The user data
// stays readable for the server's life (the metadata service, the Vultr API),
// so the first step replaces that key (infra/components/installed-host-key.ts).

/** The server's own SSH host key pair, OpenSSH format (infra/providers/host-key.ts makes it). */
export interface ServerHostKey {
  publicKey: string;
  privateKey: string;
}

export function cloudInit(deployUser: string, sshPublicKey: string, hostKey: ServerHostKey, sshPort = 22): string {
  const privateLines = hostKey.privateKey.trim().split("\n");
  return [
    "#cloud-config",
    "users:",
    `  - name: ${deployUser}`,
    "    shell: /bin/bash",
    "    sudo: ALL=(ALL) NOPASSWD:ALL",
    "    lock_passwd: true",
    "    ssh_authorized_keys:",
    `      - ${JSON.stringify(sshPublicKey)}`,
    // The image's own host keys go, and with ssh_keys given cloud-init makes
    // no other type: the server presents this key and no other, written
    // before sshd first starts.
    "ssh_deletekeys: true",
    "ssh_keys:",
    "  ed25519_private: |",
    ...privateLines.map((line) => `    ${line}`),
    `  ed25519_public: ${JSON.stringify(hostKey.publicKey.trim())}`,
    ...(sshPort === 22 ? [] : ["runcmd:", `  - ${JSON.stringify(["sh", "-c", moveSshCommand(sshPort)])}`]),
    "",
  ].join("\n");
}

/**
 * Moves sshd to `port` (config sshPort) on a new instance, before the first
 * host step dials it there: a drop-in sshd reads first, then Ubuntu 24.04's
 * ssh.socket (whose port systemd takes from sshd's config at daemon-reload)
 * and a running sshd restarted, and the port allowed through an image's own
 * ufw (the bootstrap narrows it to adminCidrs; the Vultr firewall already does).
 */
export function moveSshCommand(port: number): string {
  return [
    `printf 'Port ${port}\\n' >/etc/ssh/sshd_config.d/00-platform-port.conf`,
    "systemctl daemon-reload",
    "if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then systemctl restart ssh.socket; fi",
    "systemctl try-restart ssh.service",
    `if command -v ufw >/dev/null; then ufw allow ${port}/tcp; fi`,
  ].join(" && ");
}
