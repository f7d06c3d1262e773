// A server's SSH host key, pinned: what a key line is, its fingerprint as
// `ssh-keygen -l` prints it, and whether the key a server presents is one of
// the pinned ones. Pure: the SSH transport, the stack config and the ops
// commands decide with these; nothing here connects anywhere.
import { createHash } from "node:crypto";
import ssh2 from "ssh2";

export interface HostKey {
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
  type: string;
  /** The key in SSH wire format, base64: the second field of the line. */
  blob: string;
  /** "SHA256:...", as `ssh-keygen -l` and `ssh` print it. */
  fingerprint: string;
}

/** The types an OpenSSH server uses for its host keys. */
const HOST_KEY_TYPES = new Set([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
]);

/**
 * One OpenSSH public key line ("ssh-ed25519 AAAA... comment"), as in a
 * server's /etc/ssh/ssh_host_ed25519_key.pub: the key, or what is wrong.
 */
export function parseHostKey(text: string): HostKey | { problem: string } {
  const line = text.trim();
  if (line === "") return { problem: "is empty" };
  if (/PRIVATE KEY/.test(line)) return { problem: "is a private key; the server's public host key is wanted" };
  if (line.includes("\n")) return { problem: "holds more than one line; give one public key line" };
  const parsed = ssh2.utils.parseKey(line);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.isPrivateKey())
    return { problem: `is not an OpenSSH public key line ("ssh-ed25519 AAAA...")` };
  if (!HOST_KEY_TYPES.has(parsed.type))
    return { problem: `is a ${parsed.type} key, a type no SSH server presents as its host key` };
  const blob = parsed.getPublicSSH();
  return { type: parsed.type, blob: blob.toString("base64"), fingerprint: fingerprintOf(blob) };
}

/** Like parseHostKey, for lines already checked (config, ops flags): throws on a bad one. */
export function hostKeyOf(line: string): HostKey {
  const key = parseHostKey(line);
  if ("problem" in key) throw new Error(`host key "${line.slice(0, 40)}": ${key.problem}`);
  return key;
}

/** The line to store and pin: type and key, without a comment. */
export function hostKeyLine(key: HostKey): string {
  return `${key.type} ${key.blob}`;
}

/** SHA-256 of the key blob, base64 without padding: what `ssh-keygen -l` prints. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The type named inside a key blob (its first SSH string). */
export function blobType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const length = blob.readUInt32BE(0);
  return blob.length < 4 + length ? "unknown" : blob.subarray(4, 4 + length).toString("latin1");
}

export type HostKeyVerdict = { trusted: true } | { trusted: false; presented: { type: string; fingerprint: string } };

/** Whether the key a server presented (its blob, as the SSH library hands it over) is one of `pinned`. */
export function checkHostKey(presented: Buffer, pinned: readonly HostKey[]): HostKeyVerdict {
  const blob = presented.toString("base64");
  if (pinned.some((key) => key.blob === blob)) return { trusted: true };
  return { trusted: false, presented: { type: blobType(presented), fingerprint: fingerprintOf(presented) } };
}

/**
 * The host key algorithms to offer: only the pinned keys' types, so a server
 * with several host keys presents the pinned one (an RSA key signs with any
 * of its three algorithms).
 */
export function hostKeyAlgorithms(pinned: readonly HostKey[]): string[] {
  const algorithms = pinned.flatMap((key) =>
    key.type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [key.type],
  );
  return [...new Set(algorithms)];
}

export interface HostKeyRefusal {
  /** "203.0.113.10:22" */
  where: string;
  /** What the server presented; undefined when it offered no key of a pinned type at all. */
  presented?: { type: string; fingerprint: string };
  pinned: readonly HostKey[];
  /** Where the pin comes from and how to pin a new key, in the caller's words. */
  fix: string;
}

/** The refusal, for the operator: who presented what, what is pinned, why it matters, how to accept a real change. */
export function hostKeyRefusalMessage(refusal: HostKeyRefusal): string {
  const pinned = refusal.pinned.map((key) => `${key.fingerprint} (${key.type})`).join(" or ");
  const presented = refusal.presented
    ? `presented the SSH host key ${refusal.presented.fingerprint} (${refusal.presented.type})`
    : `offered no host key of the pinned type (${[...new Set(refusal.pinned.map((key) => key.type))].join(", ")})`;
  return (
    `Refused ${refusal.where}: it ${presented}, but the key pinned for it is ${pinned}. ` +
    "Nothing was sent to it (no login, no command, no file). Either another machine answers at this address " +
    "(a spoofed name, a machine on the path, an address now given to someone else), or the server's key really changed " +
    "(a reinstall), or the server predates pinned keys (a Vultr server created before this toolkit made host keys " +
    "keeps its image's own, and the key made for it since was never installed there). Check on the server's own " +
    "console (Vultr's web console, or its provider's): ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub prints its " +
    "fingerprint and cat /etc/ssh/ssh_host_ed25519_key.pub its line. Only if that fingerprint matches what was " +
    `presented: ${refusal.fix}`
  );
}
