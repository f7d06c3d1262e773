// Backup and restore with JetStream's own snapshot API, against real NATS
// servers holding the API's own stream and buckets (written by its chat
// store): taken while writes go on, restored whole, refused when damaged,
// and what happens to revocations and the quota buckets.
import { randomUUID } from "node:crypto";
import { appendFileSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { RevocationList, revokeUser } from "../../app/src/store/revocations.js";
import { STORED_BYTES_BUCKET, StorageQuota } from "../../app/src/store/stored-bytes-counters.js";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import { TOKEN_BUDGET_BUCKET, TokenBudgets } from "../../app/src/store/token-budget-counters.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { MANIFEST_FILE } from "../../scripts/backup/layout.js";
import { restoreBackup, verifyBackup } from "../harness/backups.js";
import { fill, logOf, OWNER, quiet, STORE_OPTIONS } from "../harness/filled-store.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

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
