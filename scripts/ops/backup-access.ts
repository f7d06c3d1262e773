// Where a target's backups go and who can read them: the operator's own
// settings (OPS_BACKUP_*) first, else the stack's.
import { parseRecipients } from "../backup/encryption.js";
import type { BucketSettings } from "../backup/object-store.js";
import { OpsError } from "./ops-error.js";

/** An operator's OPS_BACKUP_RECIPIENTS wins over the stack's backupRecipients. */
export function recipientsFromEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  return env.OPS_BACKUP_RECIPIENTS ? recipientsFrom("OPS_BACKUP_RECIPIENTS", env.OPS_BACKUP_RECIPIENTS) : undefined;
}

export function recipientsFrom(where: string, text: string): string[] {
  try {
    return parseRecipients(text);
  } catch (error) {
    throw new OpsError(`${where} ${(error as Error).message}`);
  }
}

export function bucketFrom(parts: Partial<BucketSettings>): BucketSettings | undefined {
  const { endpoint, bucket, accessKey, secretKey } = parts;
  return endpoint && bucket && accessKey && secretKey ? { endpoint, bucket, accessKey, secretKey } : undefined;
}

/** An operator's own bucket settings win over the stack's. */
export function bucketFromEnv(env: NodeJS.ProcessEnv): BucketSettings | undefined {
  const parts = {
    endpoint: env.OPS_BACKUP_ENDPOINT,
    bucket: env.OPS_BACKUP_BUCKET,
    accessKey: env.OPS_BACKUP_ACCESS_KEY,
    secretKey: env.OPS_BACKUP_SECRET_KEY,
  };
  const given = Object.entries(parts).filter(([, v]) => v);
  if (given.length > 0 && given.length < 4)
    throw new OpsError(
      "set all four of OPS_BACKUP_ENDPOINT, OPS_BACKUP_BUCKET, OPS_BACKUP_ACCESS_KEY and OPS_BACKUP_SECRET_KEY, or none",
    );
  return bucketFrom(parts);
}
