// A backup larger than one chunk, on real NATS servers: the snapshot arrives
// in several chunks, and the restore sends them two at a time
// (scripts/backup/chunking.ts). Every message must come back identical, and
// a server with no room must refuse the restore in words while the
// connection keeps answering (a third chunk past the refused one would stop
// nats-server 2.10 reading it).
import { createHash, randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import { MAX_CHUNK_BYTES } from "../../scripts/backup/chunking.js";
import { backedUpStreams } from "../../scripts/backup/owned-streams.js";
import { takeBackup, type TakenBackup } from "../../scripts/backup/take.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { restoreBackup } from "../harness/backups.js";
import { quiet, STORE_OPTIONS } from "../harness/filled-store.js";

/** Random bytes do not compress: the snapshot is as large as the messages. */
const MESSAGES = 100;
const MESSAGE_BYTES = 120 * 1024;

const digest = (subject: string, data: Uint8Array) => createHash("sha256").update(subject).update(data).digest("hex");

/** Every message of the conversation log by sequence: its subject and bytes, hashed. */
async function messagesOf(nc: NatsConnection, count: number): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const found: string[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const message = await jsm.streams.getMessage(STREAM, { seq });
    found.push(digest(message!.subject, message!.data));
  }
  return found;
}

describe("a backup of many chunks", () => {
  let source: NatsDeployment;
  let nc: NatsConnection;
  let taken: TakenBackup;
  const written: string[] = [];
  const dir = scratchDir("backup-chunks");

  beforeAll(async () => {
    source = await startNats();
    nc = await connect({ servers: source.url, token: source.token });
    const jsm = await jetstreamManager(nc);
    for (const config of backedUpStreams(STORE_OPTIONS).values()) await jsm.streams.add(config);
    const js = jetstream(nc);
    for (let i = 0; i < MESSAGES; i++) {
      const data = randomBytes(MESSAGE_BYTES);
      await js.publish(`conv.chunks.${i}`, data);
      written.push(digest(`conv.chunks.${i}`, data));
    }
    taken = await takeBackup(nc, dir.path, "test", quiet);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await source?.stop();
    dir.remove();
  });

  it("restores every message identical from a snapshot of several chunks", async () => {
    const entry = taken.manifest.streams.find((s) => s.name === STREAM)!;
    // Several chunks: more than two on the server's 1 MB max_payload, so some were sent while others were answered.
    expect(entry.bytes).toBeGreaterThan(4 * MAX_CHUNK_BYTES);
    const target = await startNats();
    const conn = await connect({ servers: target.url, token: target.token });
    try {
      await restoreBackup(conn, taken.dir, { replaceLive: false, storage: STORE_OPTIONS, log: quiet });
      expect(await messagesOf(conn, MESSAGES)).toEqual(written);
      expect((await (await jetstreamManager(conn)).streams.info(STREAM)).state.messages).toBe(MESSAGES);
    } finally {
      await conn.close();
      await target.stop();
    }
  });

  it("says a server without room refused the restore, and the connection still answers", async () => {
    // Room for the streams' reservations, not for the snapshot staged beside them.
    const target = await startNats({ maxFileStore: "3MB" });
    const conn = await connect({ servers: target.url, token: target.token });
    const small = { ...STORE_OPTIONS, maxBytes: 1024 * 1024 };
    try {
      await expect(restoreBackup(conn, taken.dir, { replaceLive: false, storage: small, log: quiet })).rejects.toThrow(
        /stopped the restore of CONVERSATIONS: insufficient resources .*no room for the backup \(max_file_store/,
      );
      const jsm = await jetstreamManager(conn, { timeout: 10_000 });
      expect((await jsm.getAccountInfo()).streams).toBe(0);
    } finally {
      await conn.close();
      await target.stop();
    }
  });
});
