// The SSH host key of a server the stack does not create (existingServer)
// and whose key the config does not give (sshHostKey): learnt once, when
// this resource is created on the first `up` (trust on first use), and kept
// in state. The host steps pin it from then on; nothing learns it again but
// a new address (a new server) or a replace the operator asks for.
import { diffInputs, type DiffRules } from "./diff.js";
import { hostKeyLine } from "../host/host-keys.js";
import { scanHostKey } from "../host/runner/host-key-scan.js";
import { InputChecker } from "../vultr/check.js";
import type { Provider } from "./provider.js";

export interface KnownHostInputs {
  host: string;
  port: number;
  /** How long to keep trying a server that does not answer yet. */
  dialTimeoutSeconds: number;
}

export interface KnownHostState extends KnownHostInputs {
  /** The key the server presented, as a public key line ("ssh-ed25519 AAAA..."). */
  publicKey: string;
  /** "SHA256:...", for the operator to compare with the server's console. */
  fingerprint: string;
  /** When it was learnt (ISO 8601). */
  learntAt: string;
}

/**
 * Another address is another server: its key is learnt anew (and said so).
 * Another port is the same server (config sshPort moved its sshd, keys and
 * all): learning again would trust whoever answers there, and would leave the
 * pin unknown in a preview, where the steps check the move (ssh-port-move.ts).
 */
export const KNOWN_HOST_DIFF_RULES: DiffRules<KnownHostInputs> = { replace: ["host"], update: [] };

/** What the operator reads in `pulumi up`'s output when a key is learnt. */
export function learntMessage(where: string, key: { type: string; fingerprint: string }): string {
  return (
    `Trust on first use: ${where} presented the SSH host key ${key.fingerprint} (${key.type}). ` +
    "Every host step and ops command is pinned to it from now on (stack output sshHostKey). Compare it now with the " +
    "fingerprint on the server's own console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); if they differ, " +
    "another machine answered: destroy nothing, find out why. To give the key instead of learning it: " +
    'pulumi config set sshHostKey "<that .pub line>".'
  );
}

export const knownHostProvider: Provider<KnownHostInputs, KnownHostState> = {
  async check(_olds, news) {
    return new InputChecker({ ...news })
      .text("host")
      .integer("port", 1, 65535)
      .integer("dialTimeoutSeconds", 1, 86_400)
      .result(news);
  },
  async diff(_id, olds, news) {
    return diffInputs(olds, news, KNOWN_HOST_DIFF_RULES);
  },
  async create(inputs) {
    const key = await scanHostKey(inputs.host, inputs.port, inputs.dialTimeoutSeconds);
    // The provider's output reaches the operator's terminal (the engine shows it under the stack).
    console.log(learntMessage(`${inputs.host}:${inputs.port}`, key));
    return {
      id: `known-host-${key.fingerprint.slice(7, 23)}`,
      outs: {
        ...inputs,
        publicKey: hostKeyLine(key),
        fingerprint: key.fingerprint,
        learntAt: new Date().toISOString(),
      },
    };
  },
  async read(id, props) {
    // Never learnt again by a refresh: that would be trusting whoever answers today.
    return { id, props };
  },
  async delete() {
    // Forgetting the key touches no host.
  },
};
