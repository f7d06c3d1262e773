// The scheduled backup, as it runs on the host: a one-off container of the
// compose stack (service `backup`, started by the platform-backup systemd
// timer) on the stack's network, so NATS is reached at nats:4222 with no
// port opened. It takes the backup into /backups (the data directory), keeps
// the newest few there, uploads it to the stack's bucket when there is one
// and keeps the newest BACKUP_KEEP in it, then records the last backup for
// `npm run ops -- status`. With BACKUP_RECIPIENTS (the stack's
// backupRecipients) every file is encrypted as it is written: the host and
// the bucket hold ciphertext only. Settings arrive in the environment.
import { readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { takeBackup } from "./take.js";
import { parseRecipients } from "./encryption.js";
import { backupsToDelete } from "./manifest.js";
import { BackupBucket } from "./object-store.js";

const DIR = "/backups";
/** Copies kept on the host itself: a restore without a download, and a bound on the disk they take. */
const KEPT_ON_HOST = 3;

function setting(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set (templates/stack/docker-compose.prod.yml, service backup; the bucket's in backup/bucket.env)`,
    );
  return value;
}

function recipients(): string[] {
  try {
    return parseRecipients(process.env.BACKUP_RECIPIENTS ?? "");
  } catch (error) {
    throw new Error(
      `BACKUP_RECIPIENTS (the stack's backupRecipients, in backup/recipients.env) ${(error as Error).message}: pulumi config set backupRecipients age1..., then npm run up`,
      { cause: error },
    );
  }
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  const encryptTo = recipients();
  // A run killed halfway (a reboot, the time limit) left its folder: nothing else writes here.
  for (const partial of readdirSync(DIR).filter((n) => n.endsWith(".partial")))
    rmSync(join(DIR, partial), { recursive: true, force: true });
  // The backup's own NATS user (a token on a stack deployed before NATS had users).
  const login = process.env.NATS_USER
    ? { user: setting("NATS_USER"), pass: setting("NATS_PASSWORD") }
    : { token: setting("NATS_TOKEN") };
  const nc = await connect({ servers: setting("NATS_URL"), ...login, reconnect: false });
  let taken;
  try {
    taken = await takeBackup(nc, DIR, `the platform-backup timer on ${hostname()}`, log, new Date(), encryptTo);
  } finally {
    await nc.close();
  }
  log(`saved ${taken.dir}`);
  for (const old of backupsToDelete(readdirSync(DIR), KEPT_ON_HOST, new Date()))
    rmSync(join(DIR, old), { recursive: true, force: true });

  let where = `kept on the host only (no bucket)`;
  const endpoint = process.env.BACKUP_S3_ENDPOINT;
  // A server whose JetStream is empty (a new one, before its restore) must
  // not push real backups out of the bucket with empty ones.
  const messages = taken.manifest.streams.reduce((sum, s) => sum + s.messages, 0);
  if (endpoint && messages === 0) {
    where = "kept on the host only (it holds no message: not uploaded, nothing pruned)";
    log(where);
  } else if (endpoint) {
    const bucket = new BackupBucket({
      endpoint,
      bucket: setting("BACKUP_S3_BUCKET"),
      accessKey: setting("BACKUP_S3_ACCESS_KEY"),
      secretKey: setting("BACKUP_S3_SECRET_KEY"),
    });
    try {
      await bucket.upload(taken.dir, taken.manifest.name, taken.files);
      const pruned = await bucket.prune(Number(setting("BACKUP_KEEP")));
      where = `uploaded to ${bucket.description}`;
      log(`${where}${pruned.length ? `; removed ${pruned.join(", ")}` : ""}`);
    } finally {
      bucket.close();
    }
  }
  // Replaced, not rewritten: `ops backup` may have left a root-owned one.
  writeFileSync(
    join(DIR, "last.new"),
    `${taken.manifest.name} ${where} by the timer${taken.encrypted ? ", encrypted" : ", NOT encrypted (no backupRecipients)"}\n`,
  );
  renameSync(join(DIR, "last.new"), join(DIR, "last"));
}

main().catch((error: unknown) => {
  console.error(`backup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
