// The system ssh client's command line for `ops ssh`, and the known_hosts
// file it trusts: only the pinned key, strictly checked, so the client
// refuses a server with another key before it logs in (as the transport does).

/** One known_hosts line per pinned key, under the name ssh looks up (`[host]:port` off port 22). */
export function knownHostsFile(host: string, port: number, hostKeys: readonly string[]): string {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return hostKeys.map((key) => `${name} ${key}\n`).join("");
}

export interface SshClientFiles {
  /** The deploy key, written 0600. */
  identity: string;
  /** The file knownHostsFile() wrote. */
  knownHosts: string;
}

export function sshClientArgs(
  target: { host: string; port: number; user: string },
  files: SshClientFiles,
  command: readonly string[],
): string[] {
  return [
    // No user or system ssh_config: a KnownHostsCommand, HostKeyAlias or
    // similar there would add keys to trust beside the pinned one.
    "-F",
    "/dev/null",
    "-i",
    files.identity,
    "-p",
    String(target.port),
    "-o",
    "IdentitiesOnly=yes",
    // The pinned key and nothing else: not the user's known_hosts, not the system's.
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${files.knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    // Nothing learnt from the server is written back into the pinned file.
    "-o",
    "UpdateHostKeys=no",
    "--",
    `${target.user}@${target.host}`,
    ...command,
  ];
}
