// The SSH host key of a server the program creates, made by the program: an
// ed25519 key pair generated once, when the resource is created, and kept in
// state (the private half as a secret). Two per server: the first-boot key,
// which cloud-init installs from the user data so the first connection
// already knows whom it talks to; and the key that replaces it
// (host:HostKeyInstall), which exists only in the state and on the server,
// since the user data stays readable. Nothing here touches a host.
import ssh2 from "ssh2";
import { InputChecker } from "../vultr/check.js";
import { diffInputs, type DiffRules } from "./diff.js";
import type { Provider } from "./provider.js";

export interface HostKeyInputs {
  /** Only ed25519: one small key type every current OpenSSH server and client speaks. */
  keyType: "ed25519";
  /**
   * The server the key is for (its instance id), for a key that is installed
   * on a running server (host:HostKeyInstall): a new server gets a new key.
   * Unset for the first-boot key, which the user data carries to any server.
   */
  server?: string;
}

export interface HostKeyState extends HostKeyInputs {
  /** The OpenSSH public key line, as in /etc/ssh/ssh_host_ed25519_key.pub. */
  publicKey: string;
  /** The OpenSSH private key: a secret output (the component marks it so). */
  privateKey: string;
}

/**
 * A new key type, or another server, is a new key; nothing else is an input.
 * A new key on demand (a rotation): pulumi up --replace with the key's URN.
 */
export const HOST_KEY_DIFF_RULES: DiffRules<HostKeyInputs> = { replace: ["keyType", "server"], update: [] };

export const hostKeyProvider: Provider<HostKeyInputs, HostKeyState> = {
  async check(_olds, news) {
    return new InputChecker({ ...news }).oneOf("keyType", ["ed25519"]).text("server", { optional: true }).result(news);
  },
  async diff(_id, olds, news) {
    return diffInputs(olds, news, HOST_KEY_DIFF_RULES);
  },
  async create(inputs) {
    // No comment: the public line is the pinned form as it is (the stack output sshHostKey).
    const pair = wellFormedKeyPair(() => ssh2.utils.generateKeyPairSync(inputs.keyType));
    // The id names the key by its public half only.
    const id = `host-key-${pair.public.split(" ")[1]!.slice(-16)}`;
    return { id, outs: { ...inputs, publicKey: pair.public, privateKey: pair.private } };
  },
  async read(id, props) {
    // Only ever in state: a refresh keeps it.
    return { id, props };
  },
  async delete() {
    // Nothing outside the state holds it but the server, which keeps it.
  },
};

interface KeyPair {
  public: string;
  private: string;
}

/** Attempts before giving up: a malformed pair comes about 1 time in 256. */
const KEY_ATTEMPTS = 16;

/**
 * A pair both halves of which OpenSSH (and ssh2) can read. ssh2's generator
 * (1.17) writes an ed25519 key whose public half starts with a zero byte
 * 31 bytes long, a key neither sshd nor ssh-keygen loads ("error in
 * libcrypto"): about one server in 256 would boot with a host key its sshd
 * refuses. Such a pair is dropped and another made.
 */
export function wellFormedKeyPair(generate: () => KeyPair): KeyPair {
  for (let attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
    const pair = generate();
    const publicKey = ssh2.utils.parseKey(pair.public);
    const privateKey = ssh2.utils.parseKey(pair.private);
    if (publicKey instanceof Error || Array.isArray(publicKey)) continue;
    if (privateKey instanceof Error || Array.isArray(privateKey)) continue;
    if (privateKey.getPublicSSH().equals(publicKey.getPublicSSH())) return pair;
  }
  throw new Error(`could not make a well-formed SSH key pair in ${KEY_ATTEMPTS} attempts`);
}
