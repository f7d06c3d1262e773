// Where and how the host's backups go: a bucket of the operator's own
// (the four backupS3* settings) and the age recipients they are encrypted to.
import { parseRecipients } from "../../scripts/backup/encryption.js";
import { StackConfigError } from "./errors.js";
import { secret } from "./secrets.js";
import type { ExistingServer, RawConfig, VultrServer } from "./stack-config.js";

/** An S3-compatible bucket of your own for the backups (any server), instead of Vultr's. */
export interface OwnBucket {
  endpoint: string;
  bucket: string;
  /** Plaintext here; handed on only as a secret. */
  accessKey: string;
  secretKey: string;
}

export interface BackupSettings {
  /** When the host backs up: a systemd calendar expression ("hourly", "*:0/30"). */
  schedule: string;
  /** Backups kept in the bucket. */
  keep: number;
  /** Set when the stack names a bucket of its own (backupS3*); a Vultr stack may create one instead (backupsBucket). */
  ownBucket?: OwnBucket;
  /** age recipients (age1...) every backup is encrypted to on the host; none: backups are not encrypted. */
  recipients: string[];
}

const S3_KEYS = ["backupS3Endpoint", "backupS3Bucket", "backupS3AccessKey", "backupS3SecretKey"] as const;

/** All four backupS3* settings, or none; never beside a Vultr bucket the stack creates. */
export function parseOwnBucket(raw: RawConfig, server: VultrServer | ExistingServer): OwnBucket | undefined {
  const given = S3_KEYS.filter((key) => (raw.values[key]?.trim() ?? "") !== "");
  if (given.length === 0) return undefined;
  const missing = S3_KEYS.find((key) => !given.includes(key));
  if (missing)
    throw new StackConfigError(
      missing,
      `is not set, but ${given.join(", ")} ${given.length > 1 ? "are" : "is"}`,
      `Set all four backupS3* settings for a bucket of your own (pulumi config set ${missing} ...), or remove them`,
    );
  if (server.kind === "vultr" && server.backupsBucket)
    throw new StackConfigError(
      "backupS3Endpoint",
      "is set, and so is backupsBucket (a Vultr bucket the stack creates)",
      "Choose one: pulumi config rm backupS3Endpoint (and the other backupS3* settings), or pulumi config set backupsBucket false",
    );
  const endpoint = raw.values.backupS3Endpoint!.trim();
  if (!/^https?:\/\/[^\s/]+\/?$/.test(endpoint))
    throw new StackConfigError(
      "backupS3Endpoint",
      `"${endpoint}" is not an endpoint URL`,
      "Use e.g.: pulumi config set backupS3Endpoint https://ewr1.vultrobjects.com",
    );
  const bucket = raw.values.backupS3Bucket!.trim();
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new StackConfigError(
      "backupS3Bucket",
      `"${bucket}" is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')`,
      "Use e.g.: pulumi config set backupS3Bucket chat-platform-backups",
    );
  const key = (name: string) => secret(raw, name, 1, `pulumi config set --secret ${name} <your key>`);
  return {
    endpoint: endpoint.replace(/\/$/, ""),
    bucket,
    accessKey: key("backupS3AccessKey"),
    secretKey: key("backupS3SecretKey"),
  };
}

const RECIPIENTS_FIX =
  "Use the recipient age-keygen (or npm run ops -- backup-key) printed: pulumi config set --secret backupRecipients age1... (comma-separate several)";

/**
 * The operator's age public keys: checked here, so a typo fails before
 * anything is deployed. Kept encrypted: whoever knows a recipient can write
 * a backup that decrypts, so it must not sit in a stack file anyone can read.
 */
export function parseBackupRecipients(raw: RawConfig): string[] {
  const text = raw.values.backupRecipients ?? "";
  if (text !== "" && !raw.secretKeys.has("backupRecipients"))
    throw new StackConfigError(
      "backupRecipients",
      "is stored in plaintext in the stack file (anyone who reads it could make backups that decrypt)",
      `Remove it and set it with --secret. ${RECIPIENTS_FIX}`,
    );
  try {
    return parseRecipients(text);
  } catch (error) {
    throw new StackConfigError("backupRecipients", (error as Error).message, RECIPIENTS_FIX);
  }
}
