// Config sshHostKey: the server's public SSH host key, pinned by every host
// step and ops command. Optional: a Vultr server gets a key the program makes,
// and an existing server's key is otherwise learnt once, on the first up.
import { hostKeyLine, parseHostKey } from "../host/host-keys.js";
import { StackConfigError } from "./errors.js";

/** The pinned key line ("ssh-ed25519 AAAA...", without comment), or undefined when not set. */
export function parseSshHostKey(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const key = parseHostKey(value);
  if (!("problem" in key)) return hostKeyLine(key);
  throw new StackConfigError(
    "sshHostKey",
    key.problem,
    "Give the server's public host key line, read on the server itself: " +
      'pulumi config set sshHostKey "<the line in /etc/ssh/ssh_host_ed25519_key.pub>" ' +
      "(from here, ssh-keyscan -t ed25519 -p SSH_PORT ADDRESS prints it after the address: compare its fingerprint, " +
      "ssh-keygen -lf, with the one on the server's console before trusting it); or remove it (pulumi config rm sshHostKey) " +
      "to have the next up learn it once",
  );
}
