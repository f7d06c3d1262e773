// What a backup is, as data, and every decision made from it: its name, its
// manifest, whether its files are whole, what a restore may do to the
// streams a server already has, and whether a restore came back whole.
// Nothing here touches NATS, a disk or a bucket.
import { z } from "zod";

export const MANIFEST_FILE = "manifest.json";
export const FORMAT = "conversational-platform-backup/1";

/** Backups are named by the time they were taken, so names sort by age. */
export function backupName(at: Date): string {
  return `backup-${at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}

export const BACKUP_NAME = /^backup-\d{8}T\d{6}Z$/;

/**
 * State that only means something to the processes running now: rate-limit
 * counters, the slots of answers in progress (and the leases of releases
 * before them). Not backed up, and not restored from older backups: a
 * restored slot would make a dead answer look alive, and a restore must not
 * be refused because clients were counted since.
 */
const EPHEMERAL_STREAMS = new Set(["KV_rate-limits", "KV_active-answers", "KV_generation-leases"]);

export function isEphemeral(stream: string): boolean {
  return EPHEMERAL_STREAMS.has(stream);
}

const streamEntry = z.object({
  name: z.string().regex(/^[^\s.*>/\\]+$/),
  /** The snapshot as the server sent it, relative to the backup's folder. */
  file: z.string().regex(/^streams\/[^/]+$/),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The stream's state when its snapshot began... */
  messages: z.number().int().nonnegative(),
  firstSeq: z.number().int().nonnegative(),
  lastSeq: z.number().int().nonnegative(),
  /**
   * ...and when it ended: the server may include messages written meanwhile,
   * so the snapshot holds a state between the two (the same when the stream
   * was not written to).
   */
  messagesAtEnd: z.number().int().nonnegative(),
  lastSeqAtEnd: z.number().int().nonnegative(),
  /** The stream's configuration and state as the server reported them with the snapshot. */
  config: z.record(z.string(), z.unknown()),
  state: z.record(z.string(), z.unknown()),
});

const manifestSchema = z.object({
  format: z.literal(FORMAT),
  name: z.string().regex(BACKUP_NAME),
  createdAt: z.string(),
  /** Who took it and from where, for a person reading the manifest. */
  source: z.string(),
  server: z.object({ version: z.string() }),
  streams: z.array(streamEntry),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type StreamEntry = z.infer<typeof streamEntry>;

export class BackupError extends Error {
  override name = "BackupError";
}

export function snapshotFile(stream: string): string {
  return `streams/${stream}.tar.s2`;
}

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
      `${where}: the manifest is not one this tool writes (${issue.path.join(".") || "top level"}: ${issue.message}); this backup cannot be used`,
    );
  }
  return parsed.data;
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
  for (const entry of manifest.streams) {
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
  for (const entry of manifest.streams) {
    if (isEphemeral(entry.name)) continue;
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
 * back deletions until it ends. In a stream with a maximum age (the leases
 * bucket) the server drops on restore what aged out since: fewer is fine.
 */
export function compareRestored(entry: StreamEntry, state: { messages: number; last_seq: number }): string | undefined {
  const maxAge = Number(entry.config.max_age ?? 0);
  const fewest = maxAge > 0 ? 0 : Math.min(entry.messages, entry.messagesAtEnd);
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
export function backupsToDelete(names: readonly string[], keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 1) throw new BackupError(`keep ${keep}: keep at least one backup`);
  const backups = names.filter((n) => BACKUP_NAME.test(n)).sort();
  return backups.slice(0, Math.max(0, backups.length - keep));
}
