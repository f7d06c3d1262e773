// Encrypted backups (age) end to end, and old unencrypted ones where the
// stack now encrypts: only ciphertext on disk and in the bucket, restored
// byte for byte, refused for another identity or without
// --allow-unencrypted.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatStore } from "../../app/src/store/chat-store.js";
import { CONVERSATIONS_STREAM as STREAM } from "../../app/src/store/subjects.js";
import { folderSource, openBackup, restoreVerified } from "../../scripts/backup/backup.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { restore } from "../../scripts/ops/commands/backup.js";
import { verifyBackup } from "../harness/backups.js";
import { fill, OWNER, quiet, STORE_OPTIONS } from "../harness/filled-store.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { filesUnder, scratchDir } from "../../scripts/loopback/tmp.js";
import { watchedTarget } from "../harness/watched-target.js";

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
