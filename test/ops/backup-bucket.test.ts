// Backups in the stack's bucket (a local S3 endpoint): uploaded, listed,
// pruned, brought back, "latest" chosen, and the keys named when refused.
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { openBackup, readBackupManifest } from "../../scripts/backup/backup.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { MANIFEST_FILE } from "../../scripts/backup/layout.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { listBackups } from "../../scripts/ops/commands/backup.js";
import type { Target } from "../../scripts/ops/target.js";
import { fill, quiet, STORE_OPTIONS } from "../harness/filled-store.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

describe("backups in the stack's bucket (a local S3 endpoint)", () => {
  let nats: NatsDeployment;
  let nc: NatsConnection;
  let s3: FakeS3;
  const dir = scratchDir("bucket-backups");

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startFakeS3()]);
    nc = await connect({ servers: nats.url, token: nats.token });
    await fill(await ChatStore.open(nc, STORE_OPTIONS), 5, 20);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    dir.remove();
  });

  it("uploads backups (making the bucket the first time), lists them, keeps the newest N, and brings one back whole", async () => {
    const bucket = new BackupBucket(s3);
    try {
      const names: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { dir: backup, manifest } = await takeBackup(
          nc,
          join(dir.path, "taken"),
          "test",
          quiet,
          new Date(Date.UTC(2026, 10, 27, 10, i)),
        );
        await bucket.upload(backup, manifest.name, [...manifest.streams.map((e) => e.file), MANIFEST_FILE]);
        names.push(manifest.name);
      }
      expect(await bucket.list()).toEqual(names);
      expect(await bucket.prune(2)).toEqual(names.slice(0, 2));
      expect(await bucket.list()).toEqual(names.slice(2));

      const back = await openBackup(bucket.source(names[3]!));
      back.cleanup();
      expect(back.manifest.name).toBe(names[3]);
      await expect(openBackup(bucket.source(names[0]!))).rejects.toThrow(
        /has no backup backup-20261127T100000Z; npm run ops -- backups lists them/,
      );
    } finally {
      bucket.close();
    }
  }, 60_000);

  it("restores latest from the newest backup that holds messages, not an empty server's newer ones", async () => {
    const empty = await startNats();
    const emptyConnection = await connect({ servers: empty.url, token: empty.token });
    const bucket = new BackupBucket(s3);
    try {
      await ChatStore.open(emptyConnection, STORE_OPTIONS);
      const full = await takeBackup(nc, join(dir.path, "taken"), "test", quiet, new Date(Date.UTC(2026, 10, 28, 9)));
      await bucket.upload(full.dir, full.manifest.name, full.files);
      const none = await takeBackup(
        emptyConnection,
        join(dir.path, "taken"),
        "test",
        quiet,
        new Date(Date.UTC(2026, 10, 28, 10)),
      );
      await bucket.upload(none.dir, none.manifest.name, none.files);
      const manifestOf = async (name: string) => (await readBackupManifest(bucket.source(name))).manifest;
      expect(await bucket.latestWithMessages(manifestOf)).toEqual({
        name: full.manifest.name,
        skipped: [none.manifest.name],
      });
    } finally {
      bucket.close();
      await emptyConnection.close();
      await empty.stop();
    }
  }, 60_000);

  it("lists the backups in the bucket and in the local folder (npm run ops -- backups)", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    try {
      const local = join(dir.path, "taken");
      const target = { description: "test", bucket: () => s3, backupRecipients: () => [] } as unknown as Target;
      expect(await listBackups(target, local)).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const inBucket = await (async () => {
      const bucket = new BackupBucket(s3);
      try {
        return await bucket.list();
      } finally {
        bucket.close();
      }
    })();
    expect(inBucket.length).toBeGreaterThan(0);
    for (const name of inBucket) expect(lines.find((l) => l.startsWith(name))).toMatch(/ {2}bucket, \//);
  });

  it("says which keys to check when the bucket refuses them", async () => {
    for (const wrong of [{ accessKey: "WRONGKEY" }, { secretKey: "not-the-secret" }]) {
      const bucket = new BackupBucket({ ...s3, ...wrong });
      try {
        await expect(bucket.list()).rejects.toThrow(
          /refused the keys \((InvalidAccessKeyId|SignatureDoesNotMatch)\): check the backup access and secret keys/,
        );
      } finally {
        bucket.close();
      }
    }
  });
});
