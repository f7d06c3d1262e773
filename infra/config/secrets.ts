// The stack's secrets: each must be stored encrypted (pulumi config set
// --secret), long enough, and is never echoed in an error.
import { ENV_SAFE } from "../host/render.js";
import { StackConfigError } from "./errors.js";
import { privateKeyProblem } from "./ssh-keys.js";
import type { RawConfig } from "./stack-config.js";

/** A value that must be stored encrypted, with a minimum length. Never echoed. */
export function secret(raw: RawConfig, key: string, minLength: number, fix: string): string {
  const value = raw.values[key];
  if (value === undefined || value === "") throw new StackConfigError(key, "is not set", `Set it: ${fix}`);
  if (!raw.secretKeys.has(key))
    throw new StackConfigError(
      key,
      "is stored in plaintext in the stack file",
      `Remove it and set it with --secret: ${fix}`,
    );
  if (value.length < minLength)
    throw new StackConfigError(
      key,
      `is ${value.length} characters, fewer than ${minLength}`,
      `Set a longer one: ${fix}`,
    );
  return value;
}

/**
 * A secret that may be unset (Pulumi allows no default for a key declared
 * secret, so the program checks the encryption itself). `npm run ops --
 * rotate` sets these; by hand they are only ever removed.
 */
export function optionalSecret(raw: RawConfig, key: string, minLength: number): string | undefined {
  const value = raw.values[key];
  if (value === undefined || value === "") return undefined;
  return secret(raw, key, minLength, `npm run ops -- rotate sets it; or pulumi config rm ${key}`);
}

export function parsePreviousJwtSecret(raw: RawConfig): { secret: string; until?: string } | undefined {
  const previous = optionalSecret(raw, "jwtPreviousSecret", 32);
  const until = raw.values.jwtPreviousSecretUntil?.trim() || undefined;
  if (
    until !== undefined &&
    (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(until) || Number.isNaN(Date.parse(until)))
  )
    throw new StackConfigError(
      "jwtPreviousSecretUntil",
      `"${until}" is not a UTC time`,
      "Use e.g.: pulumi config set jwtPreviousSecretUntil 2026-12-08T12:00:00Z (npm run ops -- rotate jwt sets it)",
    );
  if (until !== undefined && previous === undefined)
    throw new StackConfigError(
      "jwtPreviousSecretUntil",
      "is set, but jwtPreviousSecret is not",
      "Remove it: pulumi config rm jwtPreviousSecretUntil (npm run ops -- rotate jwt --finish does)",
    );
  if (previous === undefined) return undefined;
  if (!ENV_SAFE.test(previous))
    throw new StackConfigError(
      "jwtPreviousSecret",
      "has characters the host's env file cannot hold (spaces, quotes, $, #)",
      "Finish the rotation without an overlap: npm run ops -- rotate jwt --finish --now",
    );
  return { secret: previous, until };
}

export function parsePrivateKey(raw: RawConfig, publicKey: string): string {
  const fix = "Store it encrypted: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519";
  const value = raw.values.sshPrivateKey;
  if (value === undefined || value.trim() === "") throw new StackConfigError("sshPrivateKey", "is not set", fix);
  if (!raw.secretKeys.has("sshPrivateKey")) {
    throw new StackConfigError(
      "sshPrivateKey",
      "is stored in plaintext in the stack file",
      `Remove it and ${fix.toLowerCase()}`,
    );
  }
  switch (privateKeyProblem(value, publicKey)) {
    case "not-a-key":
      throw new StackConfigError("sshPrivateKey", "is not an unencrypted OpenSSH/PEM private key", fix);
    case "encrypted":
      throw new StackConfigError(
        "sshPrivateKey",
        "is protected by a passphrase, which no deploy step can type",
        "Make a deploy key without one (ssh-keygen -t ed25519 -N '' -f ~/.ssh/platform-deploy), set sshPublicKey to its .pub and store it: pulumi config set --secret sshPrivateKey < ~/.ssh/platform-deploy",
      );
    case "not-the-pair":
      throw new StackConfigError(
        "sshPrivateKey",
        "is not the private half of sshPublicKey, so the host would refuse every login",
        'Set both from the same key pair: pulumi config set sshPublicKey "$(cat KEY.pub)" and pulumi config set --secret sshPrivateKey < KEY',
      );
  }
  return value.endsWith("\n") ? value : `${value}\n`;
}
