// Hostile backups, in the bucket or in a folder: keys that leave their
// folder, names from the future, foreign streams, altered configurations,
// altered ciphertext and links, each refused before anything is written on
// this machine or run on the host.
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import { openBackup, readBackupManifest, restoreVerified } from "../../scripts/backup/backup.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { MANIFEST_FILE } from "../../scripts/backup/layout.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { restore } from "../../scripts/ops/commands/backup.js";
import { verifyBackup } from "../harness/backups.js";
import { fill, quiet, STORE_OPTIONS } from "../harness/filled-store.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { filesUnder, scratchDir } from "../../scripts/loopback/tmp.js";
import { watchedTarget } from "../harness/watched-target.js";

describe("hostile backups, in the bucket or in a folder, refused before anything is written or stopped", () => {
  let nats: NatsDeployment;
  let nc: NatsConnection;
  let s3: FakeS3;
  let raw: S3Client;
  let operator: { identity: string; recipient: string };
  const dir = scratchDir("hostile-backups");
  const work = join(dir.path, "a", "b", "work");

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startFakeS3({ bucket: "hostile-backups" })]);
    nc = await connect({ servers: nats.url, token: nats.token });
    await fill(await ChatStore.open(nc, STORE_OPTIONS), 3, 10);
    raw = new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    });
    operator = await generateKeyPair();
    mkdirSync(work, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    raw?.destroy();
    await nc?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    dir.remove();
  });

  const put = (key: string, body: string | Uint8Array) =>
    raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));

  /** A real backup, uploaded (encrypted to the operator with `encrypt`). */
  async function uploaded(at: Date, encrypt: boolean) {
    const taken = await takeBackup(nc, join(dir.path, "taken"), "test", quiet, at, encrypt ? [operator.recipient] : []);
    const bucket = new BackupBucket(s3);
    try {
      await bucket.upload(taken.dir, taken.manifest.name, taken.files);
    } finally {
      bucket.close();
    }
    return taken;
  }

  async function refusedByRestore(
    recipients: string[],
    from: string,
    pattern: RegExp,
    flags: Partial<{ identityFile: string; allowUnencrypted: boolean }> = {},
  ) {
    const { target, calls } = watchedTarget(s3, recipients);
    await expect(
      restore(target, from, { replaceLive: true, actor: "test", allowUnencrypted: false, ...flags }),
    ).rejects.toThrow(pattern);
    // Not even the NATS token was read: nothing on the host ran, nothing was stopped.
    expect(calls).toEqual([]);
  }

  const withBucket = async <T>(use: (bucket: BackupBucket) => Promise<T>) => {
    const bucket = new BackupBucket(s3);
    try {
      return await use(bucket);
    } finally {
      bucket.close();
    }
  };

  it("refuses a backup with a key that leaves its folder, writing nothing anywhere", async () => {
    const { manifest } = await uploaded(new Date(Date.UTC(2026, 10, 28, 8)), false);
    const key = `${manifest.name}/../../../x`;
    await put(key, "planted by whoever holds the bucket's keys");
    // The fake keeps the key as it was sent, as S3 does.
    const listed = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: manifest.name }));
    expect(listed.Contents?.map((o) => o.Key)).toContain(key);

    await expect(withBucket((b) => openBackup(b.source(manifest.name), { workDir: work }))).rejects.toThrow(
      `holds files this tool never writes, so nothing was taken from it: "../../../x"`,
    );
    expect(filesUnder(dir.path).filter((f) => !f.startsWith("taken"))).toEqual([]);
    await refusedByRestore([], manifest.name, /holds files this tool never writes/);
  });

  it("ignores names from the future or of the wrong shape when listing and for latest, saying so", async () => {
    const real = await uploaded(new Date(Date.UTC(2026, 10, 28, 9)), false);
    const manifestText = JSON.stringify({ ...real.manifest, name: "backup-20991231T235959Z" });
    for (const name of ["backup-20991231T235959Z", "backup-20261328T000000Z", "notes"]) {
      await put(`${name}/${MANIFEST_FILE}`, manifestText.replace("backup-20991231T235959Z", name));
      for (const entry of real.manifest.streams)
        await put(`${name}/${entry.file}`, readFileSync(join(real.dir, entry.file)));
    }
    const ignored: string[] = [];
    const names = await withBucket((b) => b.list((found) => ignored.push(...found.map((i) => `${i.name}: ${i.why}`))));
    expect(names).not.toContain("backup-20991231T235959Z");
    expect(names.at(-1)).toBe(real.manifest.name);
    expect(ignored).toEqual([
      expect.stringMatching(/^backup-20261328T000000Z: not a real date and time$/),
      expect.stringMatching(/^backup-20991231T235959Z: dated in the future/),
      expect.stringMatching(/^notes: not a backup's name/),
    ]);
    const latest = await withBucket((b) =>
      b.latestWithMessages(async (name) => (await readBackupManifest(b.source(name))).manifest),
    );
    expect(latest?.name).toBe(real.manifest.name);
    // Named outright, it is refused too.
    await refusedByRestore([], "backup-20991231T235959Z", /dated in the future/);
  });

  it("refuses a manifest that lists a stream the API does not own", async () => {
    const real = await uploaded(new Date(Date.UTC(2026, 10, 28, 10)), false);
    const evil = { ...real.manifest.streams[0]!, name: "EVIL", file: "streams/EVIL.tar.s2" };
    await put(
      `${real.manifest.name}/${MANIFEST_FILE}`,
      JSON.stringify({ ...real.manifest, streams: [...real.manifest.streams, evil] }),
    );
    await expect(withBucket((b) => openBackup(b.source(real.manifest.name), { workDir: work }))).rejects.toThrow(
      /streams\.3\.name: "EVIL" is not a stream of the API's/,
    );
    await put(`${real.manifest.name}/streams/EVIL.tar.s2`, "x");
    await refusedByRestore(
      [],
      real.manifest.name,
      /holds files this tool never writes, so nothing was taken from it: "streams\/EVIL\.tar\.s2"/,
    );
    expect(readdirSync(work)).toEqual([]);
  });

  it("restores with the app's stream configuration, whatever configuration a manifest carries", async () => {
    const real = await uploaded(new Date(Date.UTC(2026, 10, 28, 11)), false);
    // What a manifest written before this change carried, altered: every message republished elsewhere, gone in a nanosecond.
    const altered = JSON.parse(JSON.stringify(real.manifest)) as { streams: Record<string, unknown>[] };
    for (const entry of altered.streams)
      entry.config = { name: entry.name, subjects: [">"], max_age: 1, republish: { src: ">", dest: "stolen.>" } };
    await put(`${real.manifest.name}/${MANIFEST_FILE}`, JSON.stringify(altered));

    const opened = await withBucket((b) => openBackup(b.source(real.manifest.name), { workDir: work }));
    const target = await startNats();
    const conn = await connect({ servers: target.url, token: target.token });
    try {
      await restoreVerified(conn, opened.dir, opened.manifest, {
        replaceLive: false,
        log: quiet,
        storage: STORE_OPTIONS,
      });
      const jsm = await jetstreamManager(conn);
      const restored = await jsm.streams.info(STREAM);
      expect(restored.config.subjects).toEqual(["conv.>"]);
      expect(restored.config.republish).toBeUndefined();
      expect(restored.config.max_age).toBe(0);
      expect(restored.state.messages).toBe(real.manifest.streams.find((e) => e.name === STREAM)!.messages);
      // The same configuration the API gives a stream it makes itself.
      const fresh = await startNats();
      const freshConn = await connect({ servers: fresh.url, token: fresh.token });
      try {
        await ChatStore.open(freshConn, STORE_OPTIONS);
        const made = await jetstreamManager(freshConn);
        for (const name of real.manifest.streams.map((e) => e.name)) {
          const { config } = await made.streams.info(name);
          const { config: back } = await jsm.streams.info(name);
          const fields = [
            "subjects",
            "retention",
            "storage",
            "discard",
            "max_msgs_per_subject",
            "max_bytes",
            "max_age",
            "num_replicas",
            "allow_rollup_hdrs",
            "allow_direct",
            "duplicate_window",
            "max_msg_size",
          ] as const;
          for (const field of fields) expect(back[field], `${name} ${field}`).toEqual(config[field]);
        }
      } finally {
        await freshConn.close();
        await fresh.stop();
      }
    } finally {
      opened.cleanup();
      await conn.close();
      await target.stop();
    }
  }, 60_000);

  it("refuses an encrypted backup whose file was altered or cut short, before anything is stopped", async () => {
    const taken = await uploaded(new Date(Date.UTC(2026, 10, 28, 12)), true);
    const identityFile = join(dir.path, "operator.key");
    writeFileSync(identityFile, `${operator.identity}\n`, { mode: 0o600 });
    const key = `${taken.manifest.name}/streams/${STREAM}.tar.s2.age`;
    const ciphertext = readFileSync(join(taken.dir, `streams/${STREAM}.tar.s2.age`));

    const altered = Buffer.from(ciphertext);
    altered[altered.length >> 1] = altered[altered.length >> 1]! ^ 0x01;
    await put(key, altered);
    await expect(
      withBucket((b) => openBackup(b.source(taken.manifest.name), { identities: [operator.identity], workDir: work })),
    ).rejects.toThrow(
      /streams\/CONVERSATIONS\.tar\.s2\.age does not decrypt .*: it was altered, cut short, or encrypted to other keys/,
    );
    expect(readdirSync(work)).toEqual([]);
    await refusedByRestore([operator.recipient], taken.manifest.name, /does not decrypt/, { identityFile });

    await put(key, ciphertext.subarray(0, ciphertext.length - 1000));
    await refusedByRestore([operator.recipient], taken.manifest.name, /does not decrypt/, { identityFile });

    // The manifest, altered, and a manifest of the attacker's own in plaintext beside the encrypted snapshots.
    await put(key, ciphertext);
    const manifestKey = `${taken.manifest.name}/${MANIFEST_FILE}.age`;
    const manifest = readFileSync(join(taken.dir, `${MANIFEST_FILE}.age`));
    const manifestAltered = Buffer.from(manifest);
    manifestAltered[manifestAltered.length - 3] = manifestAltered[manifestAltered.length - 3]! ^ 0x01;
    await put(manifestKey, manifestAltered);
    await refusedByRestore([operator.recipient], taken.manifest.name, /manifest\.json\.age does not decrypt/, {
      identityFile,
    });
    // Without the identity: said how to give it.
    await refusedByRestore(
      [operator.recipient],
      "latest",
      /is encrypted: give the age identity that decrypts it with --identity FILE/,
    );
    await put(`${taken.manifest.name}/${MANIFEST_FILE}`, JSON.stringify(taken.manifest));
    await refusedByRestore([operator.recipient], taken.manifest.name, /mixes encrypted files .* with plaintext ones/, {
      identityFile,
    });
  }, 60_000);

  it("refuses a folder holding a link, even under a name a backup uses", async () => {
    const { dir: backup } = await takeBackup(
      nc,
      join(dir.path, "links"),
      "test",
      quiet,
      new Date(Date.UTC(2026, 10, 28, 13)),
    );
    const snapshot = join(backup, `streams/${STREAM}.tar.s2`);
    rmSync(snapshot);
    symlinkSync("/etc/hostname", snapshot);
    await expect(verifyBackup(backup)).rejects.toThrow(
      /CONVERSATIONS\.tar\.s2 is not a plain file \(a link or a device\)/,
    );
  });
});
