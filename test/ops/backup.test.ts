// Backup and restore with JetStream's own snapshot API, against real NATS
// servers holding the API's own stream and buckets (written by its chat store).
import { randomUUID } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { RevocationList, revokeUser } from "../../app/src/store/revocations.js";
import { STORED_BYTES_BUCKET, StorageQuota } from "../../app/src/store/stored-bytes-counters.js";
import { TOKEN_BUDGET_BUCKET, TokenBudgets } from "../../app/src/store/token-budget-counters.js";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import {
  folderSource,
  openBackup,
  readBackupManifest,
  restoreVerified,
  takeBackup,
} from "../../scripts/backup/backup.js";
import { MANIFEST_FILE } from "../../scripts/backup/layout.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { listBackups, restore } from "../../scripts/ops/commands/backup.js";
import type { Target } from "../../scripts/ops/target.js";
import { restoreBackup, verifyBackup } from "../harness/backups.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const OWNER = "backup-test-owner";
const quiet = () => undefined;
const STORE_OPTIONS = { replicas: 1, leaseTtlMs: 30_000, retentionMs: 0, maxBytes: 256 * 1024 * 1024 };

async function fill(store: ChatStore, conversations: number, eventsEach: number): Promise<string[]> {
  const ids: string[] = [];
  for (let c = 0; c < conversations; c++) {
    const id = randomUUID();
    ids.push(id);
    await store.createConversation(OWNER, { id, title: `conversation ${c}`, createdAt: new Date().toISOString() });
    const replyId = randomUUID();
    await store.appendUserMessage(id, {
      kind: "user",
      id: randomUUID(),
      replyId,
      content: `question ${c}`,
      model: "m",
      provider: "mock",
      createdAt: new Date().toISOString(),
    });
    await store.contexts.put(id, [{ role: "user", content: `question ${c}` }], 0);
    for (let seq = 1; seq <= eventsEach; seq++)
      await store.appendEvents(id, replyId, [{ seq, type: "delta", data: { text: `token ${seq} ` } }]);
  }
  return ids;
}

/** A conversation's whole log, in order, read from the stream. */
async function logOf(nc: NatsConnection, conversationId: string): Promise<unknown[]> {
  const consumer = await jetstream(nc).consumers.get(STREAM, {
    filter_subjects: [`conv.${conversationId}.>`],
    deliver_policy: DeliverPolicy.All,
  });
  const records: unknown[] = [];
  const pending = (await consumer.info(true)).num_pending;
  for await (const m of await consumer.fetch({ max_messages: pending, expires: 5000 })) {
    records.push(m.json());
    if (m.info.pending === 0) break;
  }
  await consumer.delete();
  return records;
}

describe("backup and restore of JetStream with the server's snapshot API", () => {
  let source: NatsDeployment;
  let nc: NatsConnection;
  let store: ChatStore;
  let ids: string[];
  const dir = scratchDir("backups");

  beforeAll(async () => {
    source = await startNats();
    nc = await connect({ servers: source.url, token: source.token });
    store = await ChatStore.open(nc, STORE_OPTIONS);
    ids = await fill(store, 20, 50);
    await store.slots.acquire(OWNER, randomUUID(), "api-1", 3);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await source?.stop();
    dir.remove();
  });

  async function emptyServer() {
    const server = await startNats();
    const conn = await connect({ servers: server.url, token: server.token });
    return {
      conn,
      async stop() {
        await conn.close();
        await server.stop();
      },
    };
  }

  it("takes every stream and bucket while writes go on, and restores them whole on another server", async () => {
    // Writes keep landing while the snapshots are taken.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing && n < 2000) {
        await fill(store, 1, 5);
        n++;
      }
    })();
    const { dir: backup, manifest } = await takeBackup(nc, dir.path, "test", quiet);
    writing = false;
    await writer;

    expect(manifest.streams.map((s) => s.name)).toEqual([
      "CONVERSATIONS",
      "KV_conversation-contexts",
      "KV_conversations",
    ]);
    // Answers in progress are not backed up: they mean nothing after a restore.
    expect((await (await jetstreamManager(nc)).streams.info("KV_active-answers")).state.messages).toBeGreaterThan(0);
    const conversationsEntry = manifest.streams.find((s) => s.name === STREAM)!;
    expect(conversationsEntry.messages).toBeGreaterThanOrEqual(20 * 51);
    expect(readdirSync(join(backup, "streams")).sort()).toEqual(
      manifest.streams.map((s) => s.file.replace("streams/", "")).sort(),
    );

    const target = await emptyServer();
    try {
      // An empty server has no stream the API made: the settings are given.
      await restoreBackup(target.conn, backup, { replaceLive: false, log: quiet, storage: STORE_OPTIONS });
      const jsm = await jetstreamManager(target.conn);
      for (const entry of manifest.streams) {
        // Between the stream's state when its snapshot began and when it ended (writes went on).
        const { state } = await jsm.streams.info(entry.name);
        expect(state.last_seq, entry.name).toBeGreaterThanOrEqual(entry.lastSeq);
        expect(state.last_seq, entry.name).toBeLessThanOrEqual(entry.lastSeqAtEnd);
        expect(state.messages, entry.name).toBeGreaterThanOrEqual(entry.messages);
        expect(state.messages, entry.name).toBeLessThanOrEqual(entry.messagesAtEnd);
      }
      // Byte for byte, at the same sequence numbers: every message the restore brought back is the source's.
      const sourceJsm = await jetstreamManager(nc);
      for (const entry of manifest.streams) {
        const { state } = await jsm.streams.info(entry.name);
        for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
          const [restored, original] = await Promise.all([
            jsm.streams.getMessage(entry.name, { seq }),
            sourceJsm.streams.getMessage(entry.name, { seq }),
          ]);
          expect(restored, `${entry.name} #${seq}`).toBeTruthy();
          expect({ subject: restored!.subject, data: Buffer.from(restored!.data), time: restored!.timestamp }).toEqual({
            subject: original!.subject,
            data: Buffer.from(original!.data),
            time: original!.timestamp,
          });
        }
      }
      // The API's own store reads the restored data: conversations and their logs.
      const restored = await ChatStore.open(target.conn, STORE_OPTIONS);
      expect((await restored.getConversation(OWNER, ids[7]!))?.title).toBe("conversation 7");
      const log = await logOf(target.conn, ids[7]!);
      expect(log).toHaveLength(51);
      expect(log.at(-1)).toMatchObject({ kind: "events", events: [{ seq: 50 }] });
    } finally {
      await target.stop();
    }
  }, 120_000);

  it("refuses a backup with a damaged or cut-short file, naming it, before touching the server", async () => {
    const { dir: backup, manifest } = await takeBackup(nc, dir.path, "test", quiet, new Date(Date.now() + 1000));
    const snapshot = join(backup, manifest.streams[0]!.file);
    const bytes = readFileSync(snapshot);
    const target = await emptyServer();
    try {
      // One byte altered: same size, other checksum.
      const altered = Buffer.from(bytes);
      altered.writeUInt8(altered.readUInt8(altered.length >> 1) ^ 0xff, altered.length >> 1);
      writeFileSync(snapshot, altered);
      await expect(
        restoreBackup(target.conn, backup, { replaceLive: false, log: quiet, storage: STORE_OPTIONS }),
      ).rejects.toThrow(
        /is damaged, so nothing was restored:\n {2}streams\/CONVERSATIONS\.tar\.s2 does not match its checksum/,
      );
      truncateSync(snapshot, bytes.length - 100);
      await expect(verifyBackup(backup)).rejects.toThrow(
        /has \d+ bytes, the manifest says \d+ \(cut short or altered\)/,
      );
      rmSync(snapshot);
      await expect(verifyBackup(backup)).rejects.toThrow(/CONVERSATIONS\.tar\.s2 is missing/);
      expect(await (await jetstreamManager(target.conn)).streams.list().next()).toEqual([]);
    } finally {
      await target.stop();
    }
  }, 60_000);

  it("refuses a folder without its manifest (a backup that did not finish) or with a damaged one", async () => {
    const { dir: backup } = await takeBackup(nc, dir.path, "test", quiet, new Date(Date.now() + 2000));
    appendFileSync(join(backup, MANIFEST_FILE), "}");
    await expect(verifyBackup(backup)).rejects.toThrow(/the manifest is not JSON/);
    rmSync(join(backup, MANIFEST_FILE));
    await expect(verifyBackup(backup)).rejects.toThrow(/has no manifest\.json: the backup did not finish/);
  }, 60_000);

  it("will not restore over streams that hold messages unless told, and then replaces them", async () => {
    const { dir: backup, manifest } = await takeBackup(nc, dir.path, "test", quiet, new Date(Date.now() + 3000));
    const before = (await (await jetstreamManager(nc)).streams.info(STREAM)).state;
    await expect(restoreBackup(nc, backup, { replaceLive: false, log: quiet })).rejects.toThrow(
      /the server holds messages in CONVERSATIONS \(\d+ messages\), .*KV_conversations .*nothing was restored.*--replace/,
    );
    expect((await (await jetstreamManager(nc)).streams.info(STREAM)).state.last_seq).toBe(before.last_seq);

    // Written after the backup: gone once it is restored over.
    await fill(store, 2, 3);
    await restoreBackup(nc, backup, { replaceLive: true, log: quiet });
    const after = (await (await jetstreamManager(nc)).streams.info(STREAM)).state;
    expect(after.last_seq).toBe(manifest.streams.find((s) => s.name === STREAM)!.lastSeq);
  }, 60_000);

  it("keeps revocations: a user revoked before the backup is still revoked after a restore on another server", async () => {
    const [from, to, fresh] = await Promise.all([emptyServer(), emptyServer(), emptyServer()]);
    try {
      const fromStore = await ChatStore.open(from.conn, STORE_OPTIONS);
      await fill(fromStore, 1, 1);
      const revokedUpTo = await revokeUser(from.conn, "mallory@example.com");
      // Its own folder: another test of this file may take a backup in the same second.
      const own = scratchDir("backups-revocations");
      const { dir: backup, manifest } = await takeBackup(from.conn, own.path, "test", quiet);
      expect(manifest.streams.map((s) => s.name)).toContain("KV_revocations");

      await restoreBackup(to.conn, backup, { replaceLive: false, log: quiet, storage: STORE_OPTIONS });
      const list = await RevocationList.open(to.conn, 1, pino({ level: "silent" }));
      expect(list.revokedUpTo("mallory@example.com")).toBe(revokedUpTo);
      // The bucket as restored is the bucket the API and ops make.
      await revokeUser(fresh.conn, "someone@example.com");
      const config = async (conn: NatsConnection) => {
        const { subjects, max_age, max_bytes, max_msgs_per_subject, discard, storage, allow_direct } = (
          await (await jetstreamManager(conn)).streams.info("KV_revocations")
        ).config;
        return { subjects, max_age, max_bytes, max_msgs_per_subject, discard, storage, allow_direct };
      };
      expect(await config(to.conn)).toEqual(await config(fresh.conn));
      own.remove();
    } finally {
      await Promise.all([from.stop(), to.stop(), fresh.stop()]);
    }
  }, 60_000);

  it("leaves the quota buckets out, and clears the stored-bytes counts on restore so each is recounted", async () => {
    // The API's quota buckets, as its instances make and fill them.
    const quota = new StorageQuota(nc, store, 1024 * 1024, { retentionMs: 0, replicas: 1 }, pino({ level: "silent" }));
    expect((await quota.charge(OWNER, 1000)).allowed).toBe(true);
    const budgets = new TokenBudgets(nc, { input: 1000, output: 1000, windowMs: 60_000 }, 1);
    expect("reservation" in (await budgets.reserve(OWNER, { input: 10, output: 10 }))).toBe(true);

    const lines: string[] = [];
    const { dir: backup, manifest } = await takeBackup(
      nc,
      dir.path,
      "test",
      (line) => void lines.push(line),
      new Date(Date.now() + 4000),
    );
    expect(lines.filter((l) => /not one of the API's streams/.test(l))).toEqual([]);
    expect(manifest.streams.map((s) => s.name)).toEqual([
      "CONVERSATIONS",
      "KV_conversation-contexts",
      "KV_conversations",
    ]);

    // The counts said what the server held before; after the restore they would be wrong.
    lines.length = 0;
    await restoreBackup(nc, backup, { replaceLive: true, log: (line) => void lines.push(line) });
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(`KV_${STORED_BYTES_BUCKET}`)).state.messages).toBe(0);
    expect(lines).toContain(
      `KV_${STORED_BYTES_BUCKET}: cleared; each user's stored bytes are recounted from the store at their next write`,
    );
    // Token budgets are not about what is stored: left as they are.
    expect((await jsm.streams.info(`KV_${TOKEN_BUDGET_BUCKET}`)).state.messages).toBe(1);
    // An instance started after the restore recounts what the restored store
    // holds for the user after their next write, rather than counting from 0.
    const restarted = new StorageQuota(
      nc,
      await ChatStore.open(nc, STORE_OPTIONS),
      1024 * 1024,
      { retentionMs: 0, replicas: 1 },
      pino({ level: "silent" }),
    );
    const held = await restarted.measure(OWNER);
    expect(held).toBeGreaterThan(20 * 1000);
    const charged = await restarted.charge(OWNER, 1000);
    expect(charged).toMatchObject({ allowed: true, used: 1000, recountedAt: 0 });
    // What the API does once the write is stored (here none was).
    await restarted.recountIfDue(OWNER, charged);
    expect((await restarted.charge(OWNER, 0)).used).toBe(held);
  }, 60_000);
});

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

/** Every file under `root`, relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/** The target's host, this machine, watched: a refused restore must not run anything there (so stops nothing). */
function watchedTarget(s3: FakeS3, recipients: string[]): { target: Target; calls: string[] } {
  const calls: string[] = [];
  const local = new LocalTransport();
  const transport = new Proxy(local, {
    get(real, property, receiver) {
      const value = Reflect.get(real, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(real, args);
      };
    },
  });
  const target = {
    description: "the watched host",
    transport,
    paths: { appDir: "/nonexistent/app", dataDir: "/nonexistent/data" },
    jwtSecret: () => "",
    jwtClaims: () => ({}),
    bucket: () => s3,
    backupRecipients: () => recipients,
  } satisfies Target;
  return { target, calls };
}

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

describe("encrypted backups (age), end to end", () => {
  let source: NatsDeployment;
  let nc: NatsConnection;
  let s3: FakeS3;
  let operator: { identity: string; recipient: string };
  const dir = scratchDir("encrypted-backups");

  beforeAll(async () => {
    [source, s3] = await Promise.all([startNats(), startFakeS3({ bucket: "encrypted-backups" })]);
    nc = await connect({ servers: source.url, token: source.token });
    await fill(await ChatStore.open(nc, STORE_OPTIONS), 10, 30);
    operator = await generateKeyPair();
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all([source?.stop(), s3?.stop()]);
    dir.remove();
  });

  it("leaves only ciphertext on disk and in the bucket, and restores from the bucket byte for byte", async () => {
    const taken = await takeBackup(nc, dir.path, "test", quiet, new Date(Date.UTC(2026, 10, 28, 9)), [
      operator.recipient,
    ]);
    expect(taken.encrypted).toBe(true);
    expect(filesUnder(taken.dir)).toEqual([
      "manifest.json.age",
      "streams/CONVERSATIONS.tar.s2.age",
      "streams/KV_conversation-contexts.tar.s2.age",
      "streams/KV_conversations.tar.s2.age",
    ]);
    for (const file of filesUnder(taken.dir)) {
      const bytes = readFileSync(join(taken.dir, file));
      expect(bytes.subarray(0, 22).toString(), file).toBe("age-encryption.org/v1\n");
      expect(bytes.includes(Buffer.from(OWNER)), file).toBe(false);
    }
    const bucket = new BackupBucket(s3);
    try {
      await bucket.upload(taken.dir, taken.manifest.name, taken.files);
      expect((await bucket.source(taken.manifest.name).files()).sort()).toEqual(filesUnder(taken.dir));
      expect(await bucket.list()).toEqual([taken.manifest.name]);

      const opened = await openBackup(bucket.source(taken.manifest.name), { identities: [operator.identity] });
      const target = await startNats();
      const conn = await connect({ servers: target.url, token: target.token });
      try {
        expect(opened.encrypted).toBe(true);
        await restoreVerified(conn, opened.dir, opened.manifest, {
          replaceLive: false,
          log: quiet,
          storage: STORE_OPTIONS,
        });
        const [restoredJsm, sourceJsm] = [await jetstreamManager(conn), await jetstreamManager(nc)];
        for (const entry of opened.manifest.streams) {
          const { state } = await restoredJsm.streams.info(entry.name);
          expect(state.last_seq, entry.name).toBe(entry.lastSeq);
          for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
            const [restored, original] = await Promise.all([
              restoredJsm.streams.getMessage(entry.name, { seq }),
              sourceJsm.streams.getMessage(entry.name, { seq }),
            ]);
            expect(Buffer.from(restored!.data).equals(Buffer.from(original!.data)), `${entry.name} #${seq}`).toBe(true);
            expect(restored!.subject).toBe(original!.subject);
          }
        }
      } finally {
        opened.cleanup();
        await conn.close();
        await target.stop();
      }
      expect(existsSync(opened.dir)).toBe(false);
    } finally {
      bucket.close();
    }
  }, 120_000);

  it("restores a local encrypted folder too, and refuses it for another identity", async () => {
    const taken = await takeBackup(nc, dir.path, "test", quiet, new Date(Date.UTC(2026, 10, 28, 10)), [
      operator.recipient,
    ]);
    expect((await verifyBackup(taken.dir, { identities: [operator.identity] })).name).toBe(taken.manifest.name);
    const stranger = await generateKeyPair();
    await expect(verifyBackup(taken.dir, { identities: [stranger.identity] })).rejects.toThrow(
      /manifest\.json\.age does not decrypt/,
    );
  }, 60_000);
});

describe("old unencrypted backups, where the stack now encrypts", () => {
  const FIXTURE = join(import.meta.dirname, "../fixtures/store-v1");

  it("are refused without --allow-unencrypted, touching nothing", async () => {
    const s3 = { endpoint: "http://127.0.0.1:9", bucket: "none", accessKey: "x", secretKey: "y" } as FakeS3;
    const { target, calls } = watchedTarget(s3, [(await generateKeyPair()).recipient]);
    await expect(
      restore(target, FIXTURE, { replaceLive: false, actor: "test", allowUnencrypted: false }),
    ).rejects.toThrow(
      /store-v1 is not encrypted, but this stack encrypts its backups \(backupRecipients, or the identity given\).*--allow-unencrypted/,
    );
    expect(calls).toEqual([]);
  });

  it("restore with --allow-unencrypted, saying so", async () => {
    const warnings: string[] = [];
    const opened = await openBackup(folderSource(FIXTURE), {
      expectEncrypted: true,
      allowUnencrypted: true,
      log: (line) => warnings.push(line),
    });
    expect(warnings).toEqual([
      expect.stringMatching(/^WARNING: .*store-v1 is not encrypted; restoring it because of --allow-unencrypted/),
    ]);
    const nats = await startNats();
    const conn = await connect({ servers: nats.url, token: nats.token });
    try {
      await restoreVerified(conn, opened.dir, opened.manifest, {
        replaceLive: false,
        log: quiet,
        storage: STORE_OPTIONS,
      });
      const { state } = await (await jetstreamManager(conn)).streams.info(STREAM);
      expect(state.messages).toBe(opened.manifest.streams.find((e) => e.name === STREAM)!.messages);
    } finally {
      opened.cleanup();
      await conn.close();
      await nats.stop();
    }
  }, 60_000);
});
