// What a backup is, as data, and every decision made from it: its name, its
// manifest, whether its files are whole, what a restore may do to the
// streams a server already has, and whether a restore came back whole.
// Nothing here touches NATS, a disk or a bucket.
import { z } from "zod";
import { BackupError } from "./errors.js";
import { BACKUP_NAME, snapshotFile, sortBackupNames } from "./layout.js";
import { BACKED_UP_STREAMS, isEphemeral, isKnownStream } from "./owned-streams.js";

export { BackupError };
export const FORMAT = "conversational-platform-backup/1";

const count = z.number().int().nonnegative();

const streamEntry = z
  .object({
    name: z.string(),
    /** The snapshot as the server sent it, relative to the backup's folder: always snapshotFile(name). */
    file: z.string(),
    /** Its size and checksum before any encryption. */
    bytes: count,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** The stream's state when its snapshot began... */
    messages: count,
    firstSeq: count,
    lastSeq: count,
    /**
     * ...and when it ended: the server may include messages written meanwhile,
     * so the snapshot holds a state between the two (the same when the stream
     * was not written to).
     */
    messagesAtEnd: count,
    lastSeqAtEnd: count,
    /**
     * The stream's state as the server reported it with the snapshot, handed
     * back to the server's restore API: only its counts are kept. (Manifests
     * before this tool checked them also carry the stream's configuration,
     * which is never read: a restore builds it from the app's declarations.)
     */
    state: z.object({ messages: count, bytes: count, first_seq: count, last_seq: count }),
  })
  .superRefine((entry, ctx) => {
    if (!isKnownStream(entry.name))
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message: `${JSON.stringify(entry.name)} is not a stream of the API's (it has ${BACKED_UP_STREAMS.join(", ")})`,
      });
    else if (entry.file !== snapshotFile(entry.name))
      ctx.addIssue({
        code: "custom",
        path: ["file"],
        message: `${JSON.stringify(entry.file)} is not where this tool puts ${entry.name} (${snapshotFile(entry.name)})`,
      });
  });

const manifestSchema = z
  .object({
    format: z.literal(FORMAT),
    name: z.string().regex(BACKUP_NAME),
    createdAt: z.string(),
    /** Who took it and from where, for a person reading the manifest. */
    source: z.string(),
    server: z.object({ version: z.string() }),
    streams: z.array(streamEntry),
  })
  .superRefine((manifest, ctx) => {
    const names = manifest.streams.map((s) => s.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice) ctx.addIssue({ code: "custom", path: ["streams"], message: `${twice} is listed twice` });
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type StreamEntry = z.infer<typeof streamEntry>;

/** Parses and checks a manifest: every stream one the API owns, every file where this tool puts it. */
export function parseManifest(text: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError(`${where}: the manifest is not JSON (damaged or cut short); this backup cannot be used`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BackupError(
      `${where}: the manifest is not one this tool writes (${issue.path.join(".") || "top level"}: ${issue.message}); this backup cannot be used, nothing was restored`,
    );
  }
  return parsed.data;
}

/** The manifest's streams a restore brings back (older backups also hold state of the processes of their day). */
export function restoredEntries(manifest: Manifest): StreamEntry[] {
  return manifest.streams.filter((entry) => !isEphemeral(entry.name));
}

/** What is on disk (or in the bucket) for one of the manifest's files. */
export interface FoundFile {
  bytes: number;
  sha256: string;
}

/**
 * Every file the manifest lists, whole: present, of its size, with its
 * checksum. Returns the problems, in words; none means the backup is whole.
 */
export function checkFiles(manifest: Manifest, found: ReadonlyMap<string, FoundFile | undefined>): string[] {
  const problems: string[] = [];
  for (const entry of restoredEntries(manifest)) {
    const file = found.get(entry.file);
    if (!file) problems.push(`${entry.file} is missing`);
    else if (file.bytes !== entry.bytes)
      problems.push(`${entry.file} has ${file.bytes} bytes, the manifest says ${entry.bytes} (cut short or altered)`);
    else if (file.sha256 !== entry.sha256) problems.push(`${entry.file} does not match its checksum (altered)`);
  }
  return problems;
}

/** A stream the server has now, when a restore begins. */
export interface LiveStream {
  name: string;
  messages: number;
}

export interface RestorePlan {
  /** Streams the server lacks: restored as they are. */
  create: StreamEntry[];
  /** Streams the server has: deleted, then restored. */
  replace: StreamEntry[];
  /** Streams the server has with messages in them, not to be touched without --replace. */
  refused: string[];
}

/**
 * What a restore does to each stream in the backup. A stream the server
 * holds no message in (the API makes its stream and buckets empty when it
 * starts on a new server) is replaced; one holding messages only when the
 * operator says so, and then the whole restore stops before touching anything.
 */
export function planRestore(manifest: Manifest, live: readonly LiveStream[], replaceLive: boolean): RestorePlan {
  const byName = new Map(live.map((s) => [s.name, s]));
  const plan: RestorePlan = { create: [], replace: [], refused: [] };
  for (const entry of restoredEntries(manifest)) {
    const existing = byName.get(entry.name);
    if (!existing) plan.create.push(entry);
    else if (existing.messages === 0 || replaceLive) plan.replace.push(entry);
    else plan.refused.push(`${entry.name} (${existing.messages} messages)`);
  }
  return plan;
}

/**
 * A restored stream's state against the manifest: the problem in words, or
 * undefined. The last sequence must lie between the stream's at the start and
 * at the end of its snapshot (equal to both when nothing was written
 * meanwhile), and so must the message count: writes only add messages (or,
 * in a bucket, replace them) while a snapshot runs, because the server holds
 * back deletions until it ends. In a stream restored with a maximum age (the
 * platform's chatRetention) the server drops on restore what aged out since:
 * fewer is fine.
 */
export function compareRestored(
  entry: StreamEntry,
  state: { messages: number; last_seq: number },
  maxAgeNanos: number,
): string | undefined {
  const fewest = maxAgeNanos > 0 ? 0 : Math.min(entry.messages, entry.messagesAtEnd);
  const most = Math.max(entry.messages, entry.messagesAtEnd);
  const countOk = state.messages >= fewest && state.messages <= most;
  const lastOk = state.last_seq >= entry.lastSeq && state.last_seq <= entry.lastSeqAtEnd;
  if (countOk && lastOk) return undefined;
  const held =
    entry.lastSeqAtEnd === entry.lastSeq
      ? `${entry.messages} up to ${entry.lastSeq}`
      : `${entry.messages}-${entry.messagesAtEnd} up to ${entry.lastSeq}-${entry.lastSeqAtEnd} (written to while it was taken)`;
  return `${entry.name}: restored ${state.messages} messages up to sequence ${state.last_seq}, the backup holds ${held}`;
}

/** The backups to delete so that the newest `keep` remain (names sort by age). */
export function backupsToDelete(names: readonly string[], keep: number, now: Date): string[] {
  if (!Number.isInteger(keep) || keep < 1) throw new BackupError(`keep ${keep}: keep at least one backup`);
  // A name from the future would count as the newest and push real backups out.
  const { backups } = sortBackupNames(names, now);
  return backups.slice(0, Math.max(0, backups.length - keep));
}
