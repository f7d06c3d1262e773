// Backups off the host: the stack's S3-compatible bucket (Vultr Object
// Storage), through the AWS SDK. A backup is uploaded as `<name>/...` with
// its manifest last, so a bucket never shows an unfinished upload as a backup.
// The bucket is not trusted: a name of the wrong shape or from the future is
// ignored (and said), and a backup is read through backup.ts's checks only.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { BackupSource } from "./backup.js";
import { ENCRYPTED_SUFFIX, MANIFEST_FILE, pathInside, sortBackupNames, type IgnoredName } from "./layout.js";
import { BackupError, backupsToDelete, type Manifest } from "./manifest.js";

export interface BucketSettings {
  /** e.g. https://ewr1.vultrobjects.com */
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
}

export class BackupBucket {
  private readonly s3: S3Client;

  constructor(private readonly settings: BucketSettings) {
    this.s3 = new S3Client({
      endpoint: settings.endpoint,
      // S3-compatible stores ignore the region, but the SDK signs with one.
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey },
      // The SDK's newer default checksums (CRC32 on every upload) are refused
      // by several S3-compatible stores; send them only where S3 requires them.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 5,
    });
  }

  get description(): string {
    return `s3://${this.settings.bucket} at ${this.settings.endpoint}`;
  }

  /** The bucket is made by the first upload: Vultr's API makes the storage, not buckets in it. */
  private async ensureBucket(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
    } catch (error) {
      const missing = error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
      if (!missing) throw this.explain(error);
      await this.call(() => this.s3.send(new CreateBucketCommand({ Bucket: this.settings.bucket })));
    }
  }

  /** Uploads the backup in `dir` named `name`: `files` (relative to `dir`) in their order, the manifest last. */
  async upload(dir: string, name: string, files: readonly string[]): Promise<void> {
    await this.ensureBucket();
    for (const file of files) {
      const upload = new Upload({
        client: this.s3,
        params: { Bucket: this.settings.bucket, Key: `${name}/${file}`, Body: createReadStream(pathInside(dir, file)) },
      });
      await this.call(() => upload.done());
    }
  }

  /** Every object key, page by page. */
  private async keys(prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(() =>
        this.s3.send(
          new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /**
   * The finished backups in the bucket (those with a manifest), oldest
   * first; names of the wrong shape or dated in the future are left out and
   * passed to `ignored` (whoever could write to the bucket could have put them there).
   */
  async list(
    ignored: (names: IgnoredName[]) => void = warnIgnored(this.description),
    now = new Date(),
  ): Promise<string[]> {
    const manifests = [MANIFEST_FILE, `${MANIFEST_FILE}${ENCRYPTED_SUFFIX}`];
    const finished = (await this.keys()).flatMap((key) => {
      const slash = key.indexOf("/");
      return slash > 0 && manifests.includes(key.slice(slash + 1)) ? [key.slice(0, slash)] : [];
    });
    const sorted = sortBackupNames(finished, now);
    if (sorted.ignored.length > 0) ignored(sorted.ignored);
    return sorted.backups;
  }

  /** Backup `name` as backup.ts reads it: its files listed and read from the bucket, never written here. */
  source(name: string): BackupSource {
    const prefix = `${name}/`;
    return {
      description: `${this.description} ${name}`,
      name,
      files: async () => {
        const keys = await this.keys(prefix);
        if (keys.length === 0)
          throw new BackupError(`${this.description} has no backup ${name}; npm run ops -- backups lists them`);
        return keys.map((key) => key.slice(prefix.length));
      },
      read: (file) =>
        this.call(async () => {
          const object = await this.s3.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: prefix + file }));
          return object.Body as Readable;
        }),
    };
  }

  /**
   * The newest finished backup that holds messages (an empty server's
   * backups are skipped), each manifest read by `manifestOf` (which checks
   * and decrypts it).
   */
  async latestWithMessages(
    manifestOf: (name: string) => Promise<Manifest>,
  ): Promise<{ name: string; skipped: string[] } | undefined> {
    const skipped: string[] = [];
    for (const name of (await this.list()).reverse()) {
      const manifest = await manifestOf(name);
      if (manifest.streams.some((s) => s.messages > 0)) return { name, skipped };
      skipped.push(name);
    }
    return undefined;
  }

  /**
   * Deletes all but the newest `keep` finished backups, and unfinished
   * uploads older than those kept. Names it ignores (wrong shape, future)
   * are neither counted nor deleted.
   */
  async prune(keep: number, now = new Date()): Promise<string[]> {
    const all = await this.keys();
    const finished = await this.list(undefined, now);
    const doomed = backupsToDelete(finished, keep, now);
    const oldestKept = finished.find((n) => !doomed.includes(n));
    const prefixes = sortBackupNames(
      all.map((k) => k.split("/")[0]!),
      now,
    ).backups;
    const unfinished = prefixes.filter((n) => !finished.includes(n) && oldestKept !== undefined && n < oldestKept);
    const names = [...doomed, ...unfinished];
    const keys = all.filter((k) => names.includes(k.split("/")[0]!));
    for (let i = 0; i < keys.length; i += 1000) {
      const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
      await this.call(() =>
        this.s3.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects } })),
      );
    }
    return names.sort();
  }

  close(): void {
    this.s3.destroy();
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** An S3 failure in words an operator can act on. */
  private explain(error: unknown): Error {
    if (!(error instanceof S3ServiceException)) {
      const message = error instanceof Error ? error.message : String(error);
      return new BackupError(`${this.description} could not be reached: ${message}`);
    }
    const status = error.$metadata.httpStatusCode;
    if (status === 403 || error.name === "InvalidAccessKeyId" || error.name === "SignatureDoesNotMatch")
      return new BackupError(
        `${this.description} refused the keys (${error.name}): check the backup access and secret keys ` +
          "(the stack's backupAccessKey/backupSecretKey outputs, or OPS_BACKUP_ACCESS_KEY/OPS_BACKUP_SECRET_KEY)",
      );
    return new BackupError(`${this.description}: ${error.name} (HTTP ${status ?? "?"}): ${error.message}`);
  }
}

/** Says which names in the bucket were ignored, and why, on stderr. */
export function warnIgnored(where: string): (names: IgnoredName[]) => void {
  return (names) => {
    for (const { name, why } of names)
      console.warn(`WARNING: ignored ${JSON.stringify(name)} in ${where}: ${why}; this tool never writes such a name`);
  };
}
