// Backups off the host: the stack's S3-compatible bucket (Vultr Object
// Storage), through the AWS SDK. A backup is uploaded as `<name>/...` with
// its manifest last, so a bucket never shows an unfinished upload as a backup.
import { createReadStream, createWriteStream, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
import { BACKUP_NAME, BackupError, MANIFEST_FILE, backupsToDelete, parseManifest, type Manifest } from "./manifest.js";

// The SDK warns on every run that its releases after January 2027 need Node
// 22; this pinned one runs on Node 20, and the move to 22 is the whole
// project's (README, Known limits), not something an operator can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

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

  async upload(dir: string, name: string): Promise<void> {
    await this.ensureBucket();
    const files = readdirSync(join(dir, "streams")).map((f) => `streams/${f}`);
    for (const file of [...files, MANIFEST_FILE]) {
      const upload = new Upload({
        client: this.s3,
        params: { Bucket: this.settings.bucket, Key: `${name}/${file}`, Body: createReadStream(join(dir, file)) },
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

  /** The finished backups in the bucket (those with a manifest), oldest first. */
  async list(): Promise<string[]> {
    return (await this.keys())
      .filter((k) => k.endsWith(`/${MANIFEST_FILE}`))
      .map((k) => k.slice(0, -MANIFEST_FILE.length - 1))
      .filter((n) => BACKUP_NAME.test(n))
      .sort();
  }

  /** A backup's manifest, read from the bucket. */
  async manifest(name: string): Promise<Manifest> {
    return this.call(async () => {
      const object = await this.s3.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: `${name}/${MANIFEST_FILE}` }),
      );
      return parseManifest(await object.Body!.transformToString(), `${this.description} ${name}`);
    });
  }

  /** The newest finished backup that holds messages (an empty server's backups are skipped). */
  async latestWithMessages(): Promise<{ name: string; skipped: string[] } | undefined> {
    const skipped: string[] = [];
    for (const name of (await this.list()).reverse()) {
      const manifest = await this.manifest(name);
      if (manifest.streams.some((s) => s.messages > 0)) return { name, skipped };
      skipped.push(name);
    }
    return undefined;
  }

  /** Copies backup `name` into `dir/name`; the caller verifies it. */
  async download(name: string, dir: string): Promise<string> {
    const keys = await this.keys(`${name}/`);
    if (!keys.includes(`${name}/${MANIFEST_FILE}`))
      throw new BackupError(
        `${this.description} has no finished backup ${name}` +
          (keys.length > 0 ? " (its upload did not finish)" : "") +
          "; npm run ops -- backups lists them",
      );
    const target = join(dir, name);
    for (const key of keys) {
      const path = join(target, key.slice(name.length + 1));
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      await this.call(async () => {
        const object = await this.s3.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
        await pipeline(object.Body as Readable, createWriteStream(path, { mode: 0o600 }));
      });
    }
    return target;
  }

  /** Deletes all but the newest `keep` finished backups, and unfinished uploads older than those kept. */
  async prune(keep: number): Promise<string[]> {
    const all = await this.keys();
    const finished = await this.list();
    const doomed = backupsToDelete(finished, keep);
    const oldestKept = finished.find((n) => !doomed.includes(n));
    const unfinished = [...new Set(all.map((k) => k.split("/")[0]!))].filter(
      (n) => BACKUP_NAME.test(n) && !finished.includes(n) && oldestKept !== undefined && n < oldestKept,
    );
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
