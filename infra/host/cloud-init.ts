// Cloud-init user data for a new instance: the deploy user with its key and
// sudo, so every host step connects as that user from the first one (the
// bootstrap then turns root's SSH login off). Holds only a public key.
export function cloudInit(deployUser: string, sshPublicKey: string): string {
  return [
    "#cloud-config",
    "users:",
    `  - name: ${deployUser}`,
    "    shell: /bin/bash",
    "    sudo: ALL=(ALL) NOPASSWD:ALL",
    "    lock_passwd: true",
    "    ssh_authorized_keys:",
    `      - ${JSON.stringify(sshPublicKey)}`,
    "",
  ].join("\n");
}
