// Taking a backup of every JetStream stream (the KV buckets are streams too)
// into a folder, and restoring one from a folder: the folder holds a snapshot
// per stream and, written last, the manifest. A folder without a manifest is
// a backup that did not finish.
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { restoreStream, snapshotStream } from "./jetstream.js";
import {
  BackupError,
  FORMAT,
  MANIFEST_FILE,
  backupName,
  checkFiles,
  compareRestored,
  parseManifest,
  planRestore,
  snapshotFile,
  isEphemeral,
  type FoundFile,
  type Manifest,
  type RestorePlan,
  type StreamEntry,
} from "./manifest.js";

export type Log = (line: string) => void;

async function streamNames(jsm: JetStreamManager): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  return names.sort();
}

/**
 * Snapshots every stream into `root/<name>/` while the platform keeps
 * writing: each stream's snapshot is consistent in itself (the server's
 * guarantee), not with the others taken a moment before or after.
 */
export async function takeBackup(
  nc: NatsConnection,
  root: string,
  source: string,
  log: Log,
  now = new Date(),
): Promise<{ dir: string; manifest: Manifest }> {
  const jsm = await jetstreamManager(nc);
  const name = backupName(now);
  const dir = join(root, name);
  if (existsSync(dir)) throw new BackupError(`${dir} exists already: a backup of the same second; try again`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, "streams"), { recursive: true, mode: 0o700 });
  try {
    const streams: StreamEntry[] = [];
    for (const stream of (await streamNames(jsm)).filter((name) => !isEphemeral(name))) {
      const file = snapshotFile(stream);
      const taken = await snapshotStream(nc, stream, join(partial, file));
      const atEnd = (await jsm.streams.info(stream)).state;
      streams.push({
        name: stream,
        file,
        bytes: taken.bytes,
        sha256: taken.sha256,
        messages: taken.state.messages,
        firstSeq: taken.state.first_seq,
        lastSeq: taken.state.last_seq,
        messagesAtEnd: atEnd.messages,
        lastSeqAtEnd: atEnd.last_seq,
        config: taken.config,
        state: taken.state,
      });
      log(`${stream}: ${taken.state.messages} messages, last sequence ${taken.state.last_seq}, ${taken.bytes} bytes`);
    }
    const manifest: Manifest = {
      format: FORMAT,
      name,
      createdAt: now.toISOString(),
      source,
      server: { version: nc.info?.version ?? "unknown" },
      streams,
    };
    writeFileSync(join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    renameSync(partial, dir);
    return { dir, manifest };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Reads a backup folder's manifest and checks every file against it; throws, naming each problem, unless all is whole. */
export async function verifyBackup(dir: string): Promise<Manifest> {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath))
    throw new BackupError(
      existsSync(dir)
        ? `${dir} has no ${MANIFEST_FILE}: the backup did not finish (or is not a backup); it cannot be restored`
        : `${dir} does not exist`,
    );
  const manifest = parseManifest(readFileSync(manifestPath, "utf8"), dir);
  const found = new Map<string, FoundFile | undefined>();
  for (const entry of manifest.streams) {
    const path = join(dir, entry.file);
    found.set(
      entry.file,
      existsSync(path) ? { bytes: statSync(path).size, sha256: await sha256File(path) } : undefined,
    );
  }
  const problems = checkFiles(manifest, found);
  if (problems.length > 0)
    throw new BackupError(`${dir} is damaged, so nothing was restored:\n  ${problems.join("\n  ")}`);
  return manifest;
}

export interface RestoreOptions {
  /** Replace streams that hold messages now (otherwise the restore refuses, touching nothing). */
  replaceLive: boolean;
  log: Log;
}

/**
 * What a restore of `manifest` would do on this server; throws, touching
 * nothing, when it would overwrite streams holding messages without leave.
 */
export async function planRestoreOn(
  nc: NatsConnection,
  manifest: Manifest,
  replaceLive: boolean,
): Promise<RestorePlan> {
  const jsm = await jetstreamManager(nc);
  const live = await Promise.all(
    (await streamNames(jsm)).map(async (name) => ({ name, messages: (await jsm.streams.info(name)).state.messages })),
  );
  const plan = planRestore(manifest, live, replaceLive);
  if (plan.refused.length > 0)
    throw new BackupError(
      `the server holds messages in ${plan.refused.join(", ")}; nothing was restored. ` +
        "Restore over them with --replace (their messages now are lost), or restore to an empty server",
    );
  return plan;
}

/**
 * Restores every stream of the backup in `dir`: checks the backup whole
 * first and plans every stream before touching one; then restores each and
 * proves its message count and last sequence are the backup's.
 */
export async function restoreBackup(nc: NatsConnection, dir: string, options: RestoreOptions): Promise<Manifest> {
  const manifest = await verifyBackup(dir);
  await restoreVerified(nc, dir, manifest, options);
  return manifest;
}

/** restoreBackup for a backup its caller has just verified (`verifyBackup`), which is not read and hashed again. */
export async function restoreVerified(
  nc: NatsConnection,
  dir: string,
  manifest: Manifest,
  options: RestoreOptions,
): Promise<void> {
  const plan = await planRestoreOn(nc, manifest, options.replaceLive);
  const jsm = await jetstreamManager(nc);
  const problems: string[] = [];
  for (const entry of [...plan.replace, ...plan.create]) {
    if (plan.replace.includes(entry)) await jsm.streams.delete(entry.name);
    const state = await restoreStream(nc, entry.name, entry.config, entry.state, join(dir, entry.file));
    const problem = compareRestored(entry, state);
    if (problem) problems.push(problem);
    options.log(`${entry.name}: restored ${state.messages} messages, last sequence ${state.last_seq}`);
  }
  if (problems.length > 0) throw new BackupError(`the restore did not come back whole:\n  ${problems.join("\n  ")}`);
}
