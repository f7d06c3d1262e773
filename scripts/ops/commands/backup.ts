// backup, backups, restore and purge: JetStream through the tunnel (the
// snapshot and restore API, scripts/backup/), the bucket through S3, and the
// host only for what must happen there: the API stopped under the deploy lock
// while streams are rewritten, the audit log, the last backup for status.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { loadTemplates } from "../../../infra/host/templates.js";
import { terminalSafe } from "../../../infra/host/runner/terminal-safe.js";
import type { HeldCommand } from "../../../infra/host/runner/transport.js";
import {
  folderSource,
  openBackup,
  planRestoreOn,
  readBackupManifest,
  restoreVerified,
  type OpenOptions,
} from "../../backup/backup.js";
import { takeBackup } from "../../backup/take.js";
import { generateKeyPair, readIdentityFile } from "../../backup/encryption.js";
import { backupNameProblem, sortBackupNames } from "../../backup/layout.js";
import { BackupBucket, warnIgnored } from "../../backup/object-store.js";
import { recordBackupCommand, restoreWindowCommand } from "../host-commands.js";
import { withNats } from "../nats.js";
import { OpsError } from "../ops-error.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

// Lines may name what a manifest from the bucket says (its streams).
const log = (line: string) => console.log(`  ${terminalSafe(line)}`);

function bucketOf(target: Target): BackupBucket {
  const settings = target.bucket();
  if (!settings)
    throw new OpsError(
      `no backup bucket for ${target.description}: the stack has none (backupsBucket, or the backupS3* settings), ` +
        "or set OPS_BACKUP_ENDPOINT, OPS_BACKUP_BUCKET, OPS_BACKUP_ACCESS_KEY and OPS_BACKUP_SECRET_KEY",
    );
  return new BackupBucket(settings);
}

export interface BackupOptions {
  /** The folder backups go in, locally. */
  out: string;
  upload: boolean;
  /** Finished backups kept in the bucket after an upload; undefined: none deleted (the host's timer prunes to the stack's backupKeep). */
  keep: number | undefined;
  actor: string;
}

export async function backup(target: Target, options: BackupOptions): Promise<number> {
  const bucket = options.upload ? bucketOf(target) : undefined;
  const recipients = target.backupRecipients();
  try {
    console.log(`backing up JetStream on ${target.description} (the platform keeps serving)`);
    const { dir, manifest, files, encrypted } = await withNats(target, (nc) =>
      takeBackup(nc, options.out, options.actor, log, new Date(), recipients),
    );
    console.log(
      `saved ${dir}${encrypted ? `, encrypted to ${recipients.length} recipient(s) (backupRecipients)` : ""}`,
    );
    if (!encrypted)
      console.warn(
        `WARNING: ${dir} is NOT encrypted and holds production data (every conversation): keep it private and off shared disks ` +
          "and repositories. Set backupRecipients (see docs/operations.md, Back up and restore) to encrypt backups.",
      );
    let where = `downloaded by ${options.actor}${encrypted ? ", encrypted" : ""}`;
    if (bucket) {
      await bucket.upload(dir, manifest.name, files);
      const pruned = options.keep === undefined ? [] : await bucket.prune(options.keep);
      console.log(`uploaded to ${bucket.description}${pruned.length ? `; removed ${pruned.length} older` : ""}`);
      where = `uploaded to ${bucket.description} by ${options.actor}${encrypted ? ", encrypted" : ", NOT encrypted"}`;
    }
    await runOnHost(
      target.transport,
      "recording the backup",
      recordBackupCommand(loadTemplates(), target.paths, `${manifest.name} ${where}`),
    );
    return 0;
  } finally {
    bucket?.close();
  }
}

export async function listBackups(target: Target, out: string): Promise<number> {
  const bucket = target.bucket() ? bucketOf(target) : undefined;
  try {
    const inBucket = bucket ? await bucket.list() : [];
    // Only names that look like a backup's are worth a word; a folder may hold other things.
    const { backups: local, ignored } = sortBackupNames(
      existsSync(out) ? readdirSync(out).filter((n) => n.startsWith("backup-") && !n.endsWith(".partial")) : [],
      new Date(),
    );
    warnIgnored(out)(ignored);
    for (const name of [...new Set([...inBucket, ...local])].sort())
      console.log(
        `${name}  ${[inBucket.includes(name) ? "bucket" : "", local.includes(name) ? join(out, name) : ""].filter(Boolean).join(", ")}`,
      );
    if (!bucket) console.log(`(no backup bucket for ${target.description}: local backups in ${out} only)`);
    return 0;
  } finally {
    bucket?.close();
  }
}

/**
 * Keeps the API instances stopped on the host (templates/host/ops/restore-window.sh)
 * while `work` runs, and has the host start them again whatever happens,
 * with `work`'s outcome (or its failure) in the host's audit log.
 */
async function withApiStopped(
  target: Target,
  action: "restore" | "purge",
  detail: string,
  work: () => Promise<string>,
  actor: string,
): Promise<void> {
  let stopped!: () => void;
  const isStopped = new Promise<void>((resolve) => (stopped = resolve));
  let said = "";
  const command = restoreWindowCommand(loadTemplates(), target.paths, action, detail, actor);
  const held: HeldCommand = await target.transport.hold(command.command, command.script, {
    stdout: (chunk) => {
      said += chunk;
      if (said.includes("== stopped")) stopped();
      process.stdout.write(terminalSafe(chunk.replace("== stopped\n", "")));
    },
    stderr: (chunk) => process.stderr.write(terminalSafe(chunk)),
  });
  const endedEarly = held.result.then((result) => {
    if (!said.includes("== stopped"))
      throw new OpsError(
        `the host could not stop the API for the ${action} (exit code ${result.code ?? "none"}): ` +
          terminalSafe(result.stderr.trim() || result.stdout.trim()),
      );
  });
  await Promise.race([isStopped, endedEarly]);
  console.log(
    `the API instances are stopped for the ${action}; they start again when it ends, even if this command is cut off`,
  );
  let outcome = "failed";
  try {
    outcome = await work();
  } catch (error) {
    outcome = `failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`;
    throw error;
  } finally {
    held.end(`${outcome.replace(/[\r\n\t]/g, " ")}\n`);
    const result = await held.result;
    if (result.code !== 0)
      console.error(`ops: the API instances did not come back on ${target.description}: npm run ops -- status`);
  }
}

export interface RestoreCommandOptions {
  replaceLive: boolean;
  actor: string;
  /** The age identity file (--identity, or OPS_BACKUP_IDENTITY). */
  identityFile?: string;
  /** Restore a plaintext backup although the stack encrypts its backups. */
  allowUnencrypted: boolean;
}

/** How backups of this target are opened: the operator's identity, and whether the stack encrypts. */
async function openOptions(target: Target, options: RestoreCommandOptions): Promise<OpenOptions> {
  const keys = options.identityFile ? await readIdentityFile(options.identityFile) : undefined;
  if (keys) log(`identity ${options.identityFile}: decrypts for ${keys.recipients.join(", ")}`);
  return {
    identities: keys?.identities,
    expectEncrypted: target.backupRecipients().length > 0,
    allowUnencrypted: options.allowUnencrypted,
    log: (line) => console.warn(line),
  };
}

/**
 * A local backup folder, or the name of one in the bucket ("latest": the
 * newest that holds any message), opened: checked, decrypted into a private
 * temporary folder when encrypted (or downloaded), proven whole.
 */
async function fetchBackup(target: Target, from: string, options: OpenOptions) {
  if (existsSync(from)) return openBackup(folderSource(from), options);
  if (from !== "latest") {
    const problem = backupNameProblem(from, new Date());
    if (problem)
      throw new OpsError(
        `${from} is neither a backup folder here nor a backup's name (${problem}); give a folder, a name from npm run ops -- backups, or latest`,
      );
  }
  const bucket = bucketOf(target);
  try {
    let name = from;
    if (from === "latest") {
      const latest = await bucket.latestWithMessages(
        async (candidate) => (await readBackupManifest(bucket.source(candidate), options)).manifest,
      );
      if (!latest) throw new OpsError(`${bucket.description} holds no finished backup with any message`);
      if (latest.skipped.length > 0)
        console.log(`skipping ${latest.skipped.length} newer backup(s) that hold no message (an empty server's)`);
      name = latest.name;
    }
    console.log(`downloading ${name} from ${bucket.description}`);
    return await openBackup(bucket.source(name), options);
  } finally {
    bucket.close();
  }
}

export async function restore(target: Target, from: string, options: RestoreCommandOptions): Promise<number> {
  const { replaceLive, actor } = options;
  // Opened whole (decrypted, checked against its manifest) and planned
  // against the streams there before the API is stopped: a damaged, altered
  // or foreign backup, or a refused overwrite, costs no downtime.
  const opened = await fetchBackup(target, from, await openOptions(target, options));
  try {
    const { manifest } = opened;
    // One connection throughout (NATS keeps running while the API stops).
    await withNats(target, async (nc) => {
      await planRestoreOn(nc, manifest, replaceLive);
      console.log(
        // The manifest comes from the bucket: its words are only shown, never obeyed by the terminal.
        terminalSafe(
          `${manifest.name}: ${manifest.streams.length} streams, ${opened.encrypted ? "decrypted, " : ""}checksums match; taken ${manifest.createdAt} by ${manifest.source}`,
        ),
      );
      await withApiStopped(
        target,
        "restore",
        manifest.name,
        async () => {
          await restoreVerified(nc, opened.dir, manifest, { replaceLive, log });
          return "restored; every stream's message count and last sequence match the backup";
        },
        actor,
      );
    });
    console.log(`restored ${manifest.name} on ${target.description}`);
    return 0;
  } finally {
    opened.cleanup();
  }
}

/**
 * The emergency purge: every message of every stream gone (conversations,
 * their logs, the leases), the streams kept. A backup is taken first unless
 * the operator says otherwise, so even this can be undone.
 */
export async function purge(target: Target, options: BackupOptions & { skipBackup: boolean }): Promise<number> {
  if (!options.skipBackup) await backup(target, options);
  await withApiStopped(
    target,
    "purge",
    "every stream",
    async () => {
      const purged = await withNats(target, async (nc) => {
        const jsm = await jetstreamManager(nc);
        const lines: string[] = [];
        for await (const name of jsm.streams.names()) {
          const { purged: count } = await jsm.streams.purge(name);
          lines.push(`${name} ${count}`);
          log(`${name}: ${count} messages purged`);
        }
        return lines;
      });
      return `purged ${purged.join(", ")}`;
    },
    options.actor,
  );
  return 0;
}

/**
 * `backup-key --out FILE`: a new age key pair, as age-keygen makes one. The
 * identity goes to FILE, readable by its owner only and never overwritten;
 * the recipient is printed for the stack config.
 */
export async function backupKey(out: string | undefined): Promise<number> {
  if (!out) throw new OpsError("backup-key needs --out FILE: where the identity (the secret half) is written");
  const { identity, recipient } = await generateKeyPair();
  try {
    writeFileSync(
      out,
      `# created: ${new Date().toISOString()} by npm run ops -- backup-key\n# public key: ${recipient}\n${identity}\n`,
      { mode: 0o600, flag: "wx" },
    );
  } catch (error) {
    throw new OpsError(
      `cannot write ${out}: ${(error as Error).message}${(error as NodeJS.ErrnoException).code === "EEXIST" ? " (it is never overwritten: choose another name)" : ""}`,
    );
  }
  console.log(`identity written to ${resolve(out)} (keep it offline: not on the host, not in CI)`);
  console.log(`recipient: ${recipient}`);
  console.log(`next: pulumi config set --secret backupRecipients ${recipient} && npm run up`);
  return 0;
}
