// Taking a backup of the API's JetStream streams into a folder: a snapshot
// per stream and, written last, the manifest, each age-encrypted as it is
// written when there are recipients. Reading one back and restoring it are
// in backup.ts.
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Log } from "./backup.js";
import { encryptStream } from "./encryption.js";
import { BackupError } from "./errors.js";
import { snapshotStream, streamNames } from "./jetstream.js";
import { MANIFEST_FILE, backupName, pathInside, snapshotFile, storedName } from "./layout.js";
import { FORMAT, type Manifest, type StreamEntry } from "./manifest.js";
import { BACKED_UP_STREAMS, isEphemeral } from "./owned-streams.js";

export interface TakenBackup {
  dir: string;
  manifest: Manifest;
  encrypted: boolean;
  /** Every file of the backup as stored, relative to `dir`, the manifest last. */
  files: string[];
}

/** Writes `source` to a new file at `path`, encrypted to `recipients` when there are any. */
async function writeFile(path: string, source: Readable, recipients: readonly string[]): Promise<void> {
  const body = recipients.length > 0 ? await encryptStream(source, recipients) : source;
  await pipeline(body, createWriteStream(path, { mode: 0o600, flags: "wx" }));
}

/**
 * Snapshots the API's streams into `root/<name>/` while the platform keeps
 * writing: each stream's snapshot is consistent in itself (the server's
 * guarantee), not with the others taken a moment before or after. With
 * `recipients`, every file is encrypted as it is written: no plaintext
 * touches the disk.
 */
export async function takeBackup(
  nc: NatsConnection,
  root: string,
  source: string,
  log: Log,
  now = new Date(),
  recipients: readonly string[] = [],
): Promise<TakenBackup> {
  const jsm = await jetstreamManager(nc);
  const name = backupName(now);
  const dir = join(root, name);
  const encrypted = recipients.length > 0;
  if (existsSync(dir)) throw new BackupError(`${dir} exists already: a backup of the same second; try again`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, "streams"), { recursive: true, mode: 0o700 });
  try {
    const live = await streamNames(jsm);
    for (const other of live.filter((n) => !BACKED_UP_STREAMS.includes(n) && !isEphemeral(n)))
      log(`${other}: not one of the API's streams (${BACKED_UP_STREAMS.join(", ")}), not backed up`);
    const streams: StreamEntry[] = [];
    const files: string[] = [];
    for (const stream of BACKED_UP_STREAMS.filter((n) => live.includes(n))) {
      const file = snapshotFile(stream);
      const stored = storedName(file, encrypted);
      const snapshot = await snapshotStream(nc, stream);
      try {
        await writeFile(pathInside(partial, stored), Readable.from(snapshot.chunks, { objectMode: false }), recipients);
      } finally {
        await snapshot.chunks.return(undefined);
      }
      const taken = snapshot.result();
      const atEnd = (await jsm.streams.info(stream)).state;
      const { messages, bytes, first_seq, last_seq } = taken.state;
      streams.push({
        name: stream,
        file,
        bytes: taken.bytes,
        sha256: taken.sha256,
        messages,
        firstSeq: first_seq,
        lastSeq: last_seq,
        messagesAtEnd: atEnd.messages,
        lastSeqAtEnd: atEnd.last_seq,
        state: { messages, bytes, first_seq, last_seq },
      });
      files.push(stored);
      log(
        `${stream}: ${messages} messages, last sequence ${last_seq}, ${taken.bytes} bytes${encrypted ? ", encrypted" : ""}`,
      );
    }
    const manifest: Manifest = {
      format: FORMAT,
      name,
      createdAt: now.toISOString(),
      source,
      server: { version: nc.info?.version ?? "unknown" },
      streams,
    };
    const manifestFile = storedName(MANIFEST_FILE, encrypted);
    await writeFile(
      pathInside(partial, manifestFile),
      Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]),
      recipients,
    );
    renameSync(partial, dir);
    return { dir, manifest, encrypted, files: [...files, manifestFile] };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}
