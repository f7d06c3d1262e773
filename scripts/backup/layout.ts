// What a backup's folder (or its prefix in the bucket) may hold, decided
// before anything is read or written: its name, the files it may contain,
// and where each lands on this disk. A bucket or a folder is not trusted:
// a name of the wrong shape or from the future, a file this tool never
// writes, or a path that leaves its folder is refused, naming it.
import { isAbsolute, join, relative, resolve } from "node:path";
import { BackupError } from "./errors.js";
import { BACKED_UP_STREAMS, isKnownStream } from "./owned-streams.js";

export const MANIFEST_FILE = "manifest.json";
/** An age-encrypted file: the plaintext's name with this suffix. */
export const ENCRYPTED_SUFFIX = ".age";

/** Backups are named by the second they were taken, so names sort by age. */
export function backupName(at: Date): string {
  return `backup-${at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}

export const BACKUP_NAME = /^backup-\d{8}T\d{6}Z$/;

/**
 * How far ahead of this machine's clock a backup's name may be: the clocks
 * of the host and of an operator's machine disagree by a little.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Why `name` is not a backup's name taken by now, or undefined when it is one. */
export function backupNameProblem(name: string, now: Date): string | undefined {
  if (!BACKUP_NAME.test(name)) return "not a backup's name (backup-YYYYMMDDTHHMMSSZ)";
  const digits = name.slice("backup-".length);
  const at = new Date(
    `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}T${digits.slice(9, 11)}:${digits.slice(11, 13)}:${digits.slice(13, 15)}Z`,
  );
  // Date rolls 31 February over into March: a name must name a real second.
  if (Number.isNaN(at.getTime()) || backupName(at) !== name) return "not a real date and time";
  if (at.getTime() > now.getTime() + CLOCK_SKEW_MS)
    return `dated in the future (this machine's clock says ${now.toISOString()})`;
  return undefined;
}

export interface IgnoredName {
  name: string;
  why: string;
}

/** Backup names among `names`, oldest first, and those ignored with the reason. */
export function sortBackupNames(names: Iterable<string>, now: Date): { backups: string[]; ignored: IgnoredName[] } {
  const backups: string[] = [];
  const ignored: IgnoredName[] = [];
  for (const name of new Set(names)) {
    const why = backupNameProblem(name, now);
    if (why) ignored.push({ name, why });
    else backups.push(name);
  }
  return { backups: backups.sort(), ignored };
}

/** The snapshot of a stream, relative to the backup's folder. */
export function snapshotFile(stream: string): string {
  return `streams/${stream}.tar.s2`;
}

/** Stored names (relative to the backup's folder) of a manifest's files, as a backup holds them. */
export function storedName(file: string, encrypted: boolean): string {
  return encrypted ? `${file}${ENCRYPTED_SUFFIX}` : file;
}

export interface Layout {
  /** Every file is age-encrypted (`.age`); none is. */
  encrypted: boolean;
  /** The stored name of the manifest. */
  manifest: string;
  /** The plain names of the stream snapshots present (streams/<name>.tar.s2), whatever their stored name. */
  snapshots: Set<string>;
}

const SNAPSHOT = /^streams\/([^/]+)\.tar\.s2$/;

/**
 * Reads which files a backup holds from their names (relative to its
 * folder): only its manifest and the snapshots of known streams, all
 * encrypted or none. Throws, naming every other file (unless told to leave
 * them unread: a folder of the operator's may hold notes beside a backup),
 * or a backup without its manifest (one whose upload did not finish).
 */
export function readLayout(files: readonly string[], where: string, strays: "refuse" | "ignore" = "refuse"): Layout {
  const unexpected: string[] = [];
  const plain: string[] = [];
  const encrypted: string[] = [];
  for (const file of files) {
    const isEncrypted = file.endsWith(ENCRYPTED_SUFFIX);
    const name = isEncrypted ? file.slice(0, -ENCRYPTED_SUFFIX.length) : file;
    const stream = SNAPSHOT.exec(name)?.[1];
    if (name === MANIFEST_FILE || (stream !== undefined && isKnownStream(stream)))
      (isEncrypted ? encrypted : plain).push(name);
    else unexpected.push(file);
  }
  if (unexpected.length > 0 && strays === "refuse")
    throw new BackupError(
      `${where} holds files this tool never writes, so nothing was taken from it: ${unexpected.map((f) => JSON.stringify(f)).join(", ")}. ` +
        `A backup holds only ${MANIFEST_FILE} and streams/<stream>.tar.s2 (each with ${ENCRYPTED_SUFFIX} when encrypted) for the streams ${BACKED_UP_STREAMS.join(", ")}`,
    );
  if (plain.length > 0 && encrypted.length > 0)
    throw new BackupError(
      `${where} mixes encrypted files (${encrypted.join(", ")}${ENCRYPTED_SUFFIX}) with plaintext ones (${plain.join(", ")}): ` +
        "a backup is encrypted whole or not at all; nothing was taken from it",
    );
  const isEncrypted = encrypted.length > 0;
  const names = isEncrypted ? encrypted : plain;
  if (!names.includes(MANIFEST_FILE))
    throw new BackupError(
      `${where} has no ${storedName(MANIFEST_FILE, isEncrypted)}: the backup did not finish (or is not a backup); it cannot be restored`,
    );
  return {
    encrypted: isEncrypted,
    manifest: storedName(MANIFEST_FILE, isEncrypted),
    snapshots: new Set(names.filter((n) => n !== MANIFEST_FILE)),
  };
}

/**
 * `root` joined with `file`, refused unless the result lies inside `root`:
 * no absolute path, no `..`, no empty or odd segment, whatever the bucket or
 * a manifest says.
 */
export function pathInside(root: string, file: string): string {
  const segments = file.split("/");
  const odd = segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"));
  const base = resolve(root);
  const path = resolve(base, ...segments);
  const rel = relative(base, path);
  if (odd || isAbsolute(file) || rel === "" || rel.startsWith("..") || isAbsolute(rel))
    throw new BackupError(`${JSON.stringify(file)} would be written outside ${base}: refused`);
  return join(base, rel);
}

export interface EncryptionVerdict {
  /** Why the backup is refused, with the way out. */
  refusal?: string;
  /** Said before a restore that goes on. */
  warning?: string;
}

/**
 * Whether a backup, encrypted or not, may be read: an encrypted one needs
 * an identity; a plaintext one, where the stack encrypts its backups, is
 * proof of nothing (whoever could write to the bucket or the host could
 * have made it), so it needs the operator's leave.
 */
export function encryptionVerdict(
  encrypted: boolean,
  where: string,
  options: { identities?: readonly string[]; expectEncrypted?: boolean; allowUnencrypted?: boolean },
): EncryptionVerdict {
  if (encrypted)
    return (options.identities ?? []).length > 0
      ? {}
      : {
          refusal:
            `${where} is encrypted: give the age identity that decrypts it with --identity FILE ` +
            "(or OPS_BACKUP_IDENTITY=FILE), the key kept offline whose recipient is in backupRecipients",
        };
  // An operator who holds an identity expects what it decrypts: a plaintext
  // backup in its place is as suspect as one where the stack encrypts.
  const expected = options.expectEncrypted || (options.identities ?? []).length > 0;
  if (!expected)
    return {
      warning:
        `WARNING: ${where} is not encrypted: whoever can write to the bucket or the host could have made or changed it. ` +
        "Set backupRecipients to encrypt new backups (docs/operations.md, Back up and restore)",
    };
  if (!options.allowUnencrypted)
    return {
      refusal:
        `${where} is not encrypted, but this stack encrypts its backups (backupRecipients, or the identity given): nothing proves who made it, ` +
        "so nothing was restored. If it is an old backup from before encryption (or one you took yourself) and you trust it, " +
        "restore it with --allow-unencrypted",
    };
  return {
    warning: `WARNING: ${where} is not encrypted; restoring it because of --allow-unencrypted: nothing proves who made it or that it is unaltered`,
  };
}
