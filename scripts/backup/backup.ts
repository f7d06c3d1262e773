// Reading a backup back and restoring it, from a folder or a bucket (take.ts
// writes one: a snapshot per stream and, written last, the manifest, each
// age-encrypted when there are recipients; a folder without a manifest is a
// backup that did not finish).
//
// A backup read back is not trusted: only the files this tool writes, for
// the streams the API owns, are read (layout.ts); an encrypted one is
// decrypted and checked whole into a private folder before anything else
// happens; the streams come back with the configuration the app declares
// (owned-streams.ts), never the one a manifest could carry.
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { jetstreamManager, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StorageOptions } from "../../app/src/store/storage-config.js";
import { decryptStream, decryptionError } from "./encryption.js";
import { restoreStream, streamNames } from "./jetstream.js";
import { encryptionVerdict, pathInside, readLayout, storedName, type Layout } from "./layout.js";
import {
  BackupError,
  checkFiles,
  compareRestored,
  parseManifest,
  planRestore,
  restoredEntries,
  type FoundFile,
  type Manifest,
  type RestorePlan,
} from "./manifest.js";
import { BACKED_UP_STREAMS, CLEARED_ON_RESTORE, backedUpStreams, storageOptionsOf } from "./owned-streams.js";

export type Log = (line: string) => void;

/** Where a backup is read from: a folder here, or a backup's prefix in a bucket. */
export interface BackupSource {
  /** For messages: the folder, or the bucket and the backup's name. */
  description: string;
  /** The name the backup must carry in its manifest (a bucket's prefix); a folder may be named anything. */
  name?: string;
  /**
   * A folder on this machine, whose plaintext files are read where they are.
   * Other files in it are left unread (the operator's notes), where a
   * bucket's are refused (whoever holds its keys could have put them there).
   */
  folder?: string;
  /** Every file the backup holds, relative to it, "/"-separated, as the folder or the bucket lists them. */
  files(): Promise<string[]>;
  /** One of them; only names readLayout accepted are asked for. */
  read(file: string): Promise<Readable>;
}

/** A backup folder on this machine; anything but plain files and folders in it (a link) is refused. */
export function folderSource(folder: string): BackupSource {
  const root = resolve(folder);
  return {
    description: root,
    folder: root,
    async files() {
      if (!existsSync(root)) throw new BackupError(`${root} does not exist`);
      const found: string[] = [];
      const walk = (relative: string) => {
        for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
          const path = relative ? `${relative}/${entry.name}` : entry.name;
          if (entry.isDirectory()) walk(path);
          else if (entry.isFile()) found.push(path);
          else
            throw new BackupError(
              `${join(root, path)} is not a plain file (a link or a device): a backup holds none, so nothing was taken from ${root}`,
            );
        }
      };
      walk("");
      return found;
    },
    async read(file) {
      const path = pathInside(root, file);
      if (!lstatSync(path).isFile()) throw new BackupError(`${path} is not a plain file: refused`);
      return createReadStream(path);
    },
  };
}

export interface OpenOptions {
  /** age identities (AGE-SECRET-KEY-1...) that decrypt the backup. */
  identities?: readonly string[];
  /** The stack encrypts its backups (backupRecipients): a plaintext one is refused unless allowUnencrypted. */
  expectEncrypted?: boolean;
  /** Restore a plaintext backup although the stack encrypts its backups, with a warning. */
  allowUnencrypted?: boolean;
  /** Where a private folder for the decrypted files is made; the system's temporary folder by default. */
  workDir?: string;
  log?: Log;
}

export interface OpenedBackup {
  /** A folder holding the backup's plaintext snapshots, checked against its manifest. */
  dir: string;
  manifest: Manifest;
  encrypted: boolean;
  /** Removes what opening the backup wrote (the decrypted or downloaded copies). */
  cleanup(): void;
}

/** A manifest is a few kilobytes; a larger one is not this tool's. */
const MANIFEST_MAX_BYTES = 1024 * 1024;

async function readAll(stream: Readable, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length;
    if (bytes > MANIFEST_MAX_BYTES)
      throw new BackupError(`${what} is larger than ${MANIFEST_MAX_BYTES} bytes: not a manifest this tool writes`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks).toString("utf8");
}

function plaintextOf(source: Readable, layout: Layout, options: OpenOptions, what: string): Promise<Readable> {
  return layout.encrypted ? decryptStream(source, options.identities ?? [], what) : Promise.resolve(source);
}

/**
 * A backup's layout and manifest, checked: only files this tool writes, for
 * the streams the API owns; encrypted when the stack says so (or with
 * leave); the manifest decrypted, parsed and naming the backup it is in.
 */
export async function readBackupManifest(
  source: BackupSource,
  options: OpenOptions = {},
): Promise<{ layout: Layout; manifest: Manifest }> {
  const layout = readLayout(await source.files(), source.description, source.folder ? "ignore" : "refuse");
  const verdict = encryptionVerdict(layout.encrypted, source.description, options);
  if (verdict.refusal) throw new BackupError(verdict.refusal);
  if (verdict.warning) (options.log ?? console.warn)(verdict.warning);
  const what = `${source.description}: ${layout.manifest}`;
  const manifest = parseManifest(
    await readAll(await plaintextOf(await source.read(layout.manifest), layout, options, what), what),
    source.description,
  );
  if (source.name !== undefined && manifest.name !== source.name)
    throw new BackupError(
      `${source.description} holds the manifest of ${manifest.name}: a backup renamed or copied under another name is refused`,
    );
  const listed = new Set(manifest.streams.map((s) => s.file));
  const unlisted = [...layout.snapshots].filter((file) => !listed.has(file));
  if (unlisted.length > 0)
    throw new BackupError(
      `${source.description} holds ${unlisted.join(", ")}, which its manifest does not list: refused, nothing was restored`,
    );
  return { layout, manifest };
}

/** Copies `source` to a new file at `path`, returning its size and checksum. */
async function copyCounting(source: Readable, path: string): Promise<FoundFile> {
  const hash = createHash("sha256");
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, counter, createWriteStream(path, { mode: 0o600, flags: "wx" }));
  return { bytes, sha256: hash.digest("hex") };
}

/**
 * Opens a backup for a restore: its manifest checked (readBackupManifest),
 * then every snapshot a restore needs proven whole against it. A plaintext
 * folder is checked where it is; an encrypted or remote backup is decrypted
 * into a private folder as it is read, and a file that does not decrypt
 * (altered, cut short, other keys) is refused there. Nothing outside that
 * folder is written, and nothing is touched on any server.
 */
export async function openBackup(source: BackupSource, options: OpenOptions = {}): Promise<OpenedBackup> {
  const { layout, manifest } = await readBackupManifest(source, options);
  const found = new Map<string, FoundFile | undefined>();
  const inPlace = !layout.encrypted && source.folder !== undefined;
  const dir = inPlace ? source.folder! : mkdtempSync(join(options.workDir ?? tmpdir(), "platform-restore-"));
  const cleanup = () => {
    if (!inPlace) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const entry of restoredEntries(manifest)) {
      if (!layout.snapshots.has(entry.file)) continue;
      const stored = storedName(entry.file, layout.encrypted);
      const what = `${source.description}: ${stored}`;
      const path = pathInside(dir, entry.file);
      if (inPlace) {
        const hash = createHash("sha256");
        let bytes = 0;
        for await (const chunk of await source.read(entry.file)) {
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
        }
        found.set(entry.file, { bytes, sha256: hash.digest("hex") });
        continue;
      }
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      try {
        found.set(
          entry.file,
          await copyCounting(await plaintextOf(await source.read(stored), layout, options, what), path),
        );
      } catch (error) {
        if (error instanceof BackupError || !layout.encrypted) throw error;
        throw decryptionError(what, error);
      }
    }
    const problems = checkFiles(manifest, found);
    if (problems.length > 0)
      throw new BackupError(`${source.description} is damaged, so nothing was restored:\n  ${problems.join("\n  ")}`);
    return { dir, manifest, encrypted: layout.encrypted, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

export interface RestoreOptions extends OpenOptions {
  /** Replace streams that hold messages now (otherwise the restore refuses, touching nothing). */
  replaceLive: boolean;
  log: Log;
  /**
   * The storage settings the restored streams get. By default those the
   * running platform gave its conversation log (the API applies the stack's
   * settings whenever it starts), never a backup's.
   */
  storage?: StorageOptions;
}

export interface PreparedRestore {
  plan: RestorePlan;
  /** Each restored stream's configuration, built from the app's declarations. */
  configs: Map<string, Partial<StreamConfig> & { name: string }>;
}

/** The storage settings of the platform on this server, read from the stream the API made. */
async function liveStorageOptions(jsm: JetStreamManager): Promise<StorageOptions> {
  const conversations = BACKED_UP_STREAMS.find((n) => !n.startsWith("KV_"))!;
  const info = await jsm.streams.info(conversations).catch(() => undefined);
  const options = info && storageOptionsOf(info.config);
  if (!options)
    throw new BackupError(
      `the server has no ${conversations} stream made by the API, so there are no storage settings to restore with: ` +
        "start the API once (npm run up, or npm run ops -- restart api) so it makes its streams with the stack's settings, then restore again",
    );
  return options;
}

/**
 * What a restore of `manifest` would do on this server, and the stream
 * configurations it would use; throws, touching nothing, when it would
 * overwrite streams holding messages without leave.
 */
export async function planRestoreOn(
  nc: NatsConnection,
  manifest: Manifest,
  replaceLive: boolean,
  storage?: StorageOptions,
): Promise<PreparedRestore> {
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
  return { plan, configs: backedUpStreams(storage ?? (await liveStorageOptions(jsm))) };
}

/**
 * Restores every stream of a backup its caller has opened (`openBackup`:
 * checked whole, not read and checked again here): plans every stream before
 * touching one; then restores each and proves its message count and last
 * sequence are the backup's. The state that describes what the store held
 * before (CLEARED_ON_RESTORE) is emptied, for the API to rebuild.
 */
export async function restoreVerified(
  nc: NatsConnection,
  dir: string,
  manifest: Manifest,
  options: RestoreOptions,
): Promise<void> {
  const { plan, configs } = await planRestoreOn(nc, manifest, options.replaceLive, options.storage);
  const jsm = await jetstreamManager(nc);
  const problems: string[] = [];
  for (const entry of [...plan.replace, ...plan.create]) {
    const config = configs.get(entry.name)!;
    if (plan.replace.includes(entry)) await jsm.streams.delete(entry.name);
    const state = await restoreStream(nc, entry.name, config, entry.state, pathInside(dir, entry.file));
    const problem = compareRestored(entry, state, config.max_age ?? 0);
    if (problem) problems.push(problem);
    options.log(`${entry.name}: restored ${state.messages} messages, last sequence ${state.last_seq}`);
  }
  for (const [stream, why] of CLEARED_ON_RESTORE) {
    if (!(await streamNames(jsm)).includes(stream)) continue;
    await jsm.streams.purge(stream);
    options.log(`${stream}: cleared; ${why}`);
  }
  if (problems.length > 0) throw new BackupError(`the restore did not come back whole:\n  ${problems.join("\n  ")}`);
}
