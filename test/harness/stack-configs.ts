// Stack configurations for the tests: a realistic production config with a
// real key pair (the config checks that the private key is the public key's
// pair and has no passphrase).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "../../scripts/loopback/tmp.js";

export interface KeyPair {
  publicKey: string;
  privateKey: string;
}

export function generateKeyPair(passphrase = ""): KeyPair {
  const dir = scratchDir("key");
  try {
    const path = join(dir.path, "key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "ops@example.com", "-f", path]);
    return { publicKey: readFileSync(`${path}.pub`, "utf8").trim(), privateKey: readFileSync(path, "utf8") };
  } finally {
    dir.remove();
  }
}

export const KEYS = generateKeyPair();

/** Plain values, as `pulumi config set` stores them (arrays as lists). */
export const REALISTIC_CONFIG = {
  region: "ewr",
  plan: "vhp-2c-4gb-amd",
  hostname: "chat-platform",
  domain: "example.com",
  apiSubdomain: "api",
  createDnsZone: "true",
  adminCidrs: ["203.0.113.7/32", "2001:db8:1234::/48"],
  sshPublicKey: KEYS.publicKey,
  reservedIp: "true",
  backupsBucket: "true",
  acmeEmail: "ops@example.com",
  // Production pins images by digest (a tag is refused).
  apiImage: "node:24-bookworm-slim@sha256:d6aa754f16b3197301076f047b5def2f02ea1dbbc2ca920407d46d7ec7f87b20",
  natsImage: "nats:2.10-alpine@sha256:b83efabe3e7def1e0a4a31ec6e078999bb17c80363f881df35edc70fcb6bb927",
};

/** Values stored with --secret. */
export const REALISTIC_SECRETS = {
  sshPrivateKey: KEYS.privateKey,
  natsToken: "nats-token-0123456789abcdef",
  jwtSecret: "jwt-secret-0123456789abcdef0123456789",
  llmApiKey: "sk-ant-api03-test-key-abcdefghijklmnop",
};

export const SECRET_KEYS = Object.keys(REALISTIC_SECRETS);
