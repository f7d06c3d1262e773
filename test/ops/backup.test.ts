// Backup and restore with JetStream's own snapshot API, against real NATS
// servers holding the API's own stream and buckets (written by its chat store).
import { randomUUID } from "node:crypto";
import { appendFileSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import { restoreBackup, takeBackup, verifyBackup } from "../../scripts/backup/backup.js";
import { MANIFEST_FILE } from "../../scripts/backup/manifest.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { listBackups } from "../../scripts/ops/commands/backup.js";
import type { Target } from "../../scripts/ops/target.js";
import { startNats, type NatsDeployment } from "../harness/nats.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { scratchDir } from "../harness/tmp.js";

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
    await store.putContext(id, [{ role: "user", content: `question ${c}` }], 0);
    for (let seq = 1; seq <= eventsEach; seq++)
      await store.appendEvents(id, replyId, [{ seq, type: "delta", data: { text: `token ${seq} ` } }]);
  }
  return ids;
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
    await store.acquireAnswerSlot(OWNER, randomUUID(), "api-1", 3);
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
      await restoreBackup(target.conn, backup, { replaceLive: false, log: quiet });
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
      const log = await restored.readLog(ids[7]!);
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
      await expect(restoreBackup(target.conn, backup, { replaceLive: false, log: quiet })).rejects.toThrow(
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
        await bucket.upload(backup, manifest.name);
        names.push(manifest.name);
      }
      expect(await bucket.list()).toEqual(names);
      expect(await bucket.prune(2)).toEqual(names.slice(0, 2));
      expect(await bucket.list()).toEqual(names.slice(2));

      const back = await bucket.download(names[3]!, join(dir.path, "downloaded"));
      const manifest = await verifyBackup(back);
      expect(manifest.name).toBe(names[3]);
      await expect(bucket.download(names[0]!, join(dir.path, "downloaded"))).rejects.toThrow(
        /has no finished backup backup-20261127T100000Z; npm run ops -- backups lists them/,
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
      await bucket.upload(full.dir, full.manifest.name);
      const none = await takeBackup(
        emptyConnection,
        join(dir.path, "taken"),
        "test",
        quiet,
        new Date(Date.UTC(2026, 10, 28, 10)),
      );
      await bucket.upload(none.dir, none.manifest.name);
      expect(await bucket.latestWithMessages()).toEqual({ name: full.manifest.name, skipped: [none.manifest.name] });
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
      const target = { description: "test", bucket: () => s3 } as unknown as Target;
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
