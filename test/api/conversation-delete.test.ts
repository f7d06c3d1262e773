// A conversation delete that fails part way, against a real nats-server whose
// users may not do one step of it each. Instances are told to stop the
// conversation's answers and end its resume streams only once its record is
// gone: a delete that fails before that leaves them running, and one that
// fails after it leaves a marker that the next delete finishes from.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteConversation } from "../../app/src/chat/conversation-delete.js";
import { ChatStore } from "../../app/src/store/chat-store.js";
import type { ConversationRecord } from "../../app/src/store/records.js";
import { StorageQuota } from "../../app/src/store/stored-bytes-counters.js";
import { keys } from "../../app/src/store/subjects.js";
import { NatsNode } from "../../scripts/loopback/nats.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const OWNER = "deleter";
const OPTIONS = { replicas: 1, leaseTtlMs: 30_000, retentionMs: 0, maxBytes: 64 * 1024 * 1024 };
const PASSWORD = "test-password-0123456789";
/** Each user but the admin is refused one step of a delete. */
const USERS = {
  admin: [],
  // The conversation's record cannot be written (nor removed by a compare-and-set).
  "no-record-writes": ["$KV.conversations.>"],
  // The log cannot be purged.
  "no-log-purge": ["$JS.API.STREAM.PURGE.CONVERSATIONS"],
} satisfies Record<string, string[]>;
type User = keyof typeof USERS;

describe("a conversation delete that fails part way", () => {
  const dir = scratchDir("delete-nats");
  let node: NatsNode;
  let admin: NatsConnection;
  let store: ChatStore;

  beforeAll(async () => {
    const users = Object.entries(USERS).map(([user, deny]) =>
      deny.length > 0
        ? `{ user: "${user}", password: "${PASSWORD}", permissions: { publish: { deny: ${JSON.stringify(deny)} } } }`
        : `{ user: "${user}", password: "${PASSWORD}" }`,
    );
    const port = await freePort();
    const config = join(dir.path, "nats.conf");
    writeFileSync(
      config,
      [
        `listen: 127.0.0.1:${port}`,
        `jetstream { store_dir: "${join(dir.path, "store")}", max_memory_store: 64MB, max_file_store: 256MB }`,
        `authorization { users: [ ${users.join(", ")} ] }`,
      ].join("\n") + "\n",
    );
    node = new NatsNode("delete-nats", port, config);
    await node.start();
    admin = await connectAs("admin");
    store = await ChatStore.open(admin, OPTIONS);
  });

  afterAll(async () => {
    await admin?.close();
    await node?.stop();
    dir.remove();
  });

  const connectAs = (user: User) => connect({ servers: node.url, user, pass: PASSWORD });

  /** A conversation with a message and a few events of its answer in the log. */
  async function conversation(): Promise<string> {
    const now = new Date().toISOString();
    const record: ConversationRecord = { id: randomUUID(), title: "to delete", createdAt: now, updatedAt: now };
    await store.createConversation(OWNER, record);
    const replyId = randomUUID();
    await store.appendUserMessage(record.id, {
      kind: "user",
      id: randomUUID(),
      replyId,
      content: "hello",
      model: "m",
      provider: "mock",
      createdAt: now,
    });
    await store.appendEvents(record.id, replyId, [{ seq: 1, type: "delta", data: { text: "hi" } }]);
    return record.id;
  }

  async function logMessages(id: string): Promise<number> {
    const jsm = await jetstreamManager(admin);
    const info = await jsm.streams.info("CONVERSATIONS", { subjects_filter: `conv.${id}.>` });
    return Object.values(info.state.subjects ?? {}).reduce((n, count) => n + count, 0);
  }

  /** Every message the conversations bucket holds for this conversation's key, markers included. */
  async function recordEntries(id: string): Promise<number> {
    const jsm = await jetstreamManager(admin);
    const subject = `$KV.conversations.${keys.conversation(OWNER, id)}`;
    const info = await jsm.streams.info("KV_conversations", { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  /**
   * Deletes `id` with the store of a user refused one step. Returns the
   * error, and for each stop any instance was told, whether the
   * conversation's record was still there when it arrived.
   */
  async function deleteAs(user: User, id: string) {
    const nc = await connectAs(user);
    const stops: Array<Promise<boolean>> = [];
    const unsubscribe = store.onConversationStopped((stopped) => {
      if (stopped === id) stops.push(store.getConversation(OWNER, id).then((record) => record !== null));
    });
    try {
      const limited = await ChatStore.open(nc, OPTIONS);
      // No quota here: what is given back is storage-quota.test.ts's subject.
      const quota = new StorageQuota(nc, limited, 0, OPTIONS, pino({ level: "silent" }));
      const error = await deleteConversation({ store: limited, quota }, OWNER, id).then(
        () => undefined,
        (err: unknown) => err,
      );
      // Whatever the delete published has reached the server, then the admin's subscription.
      await nc.flush();
      await admin.flush();
      return { error, recordThereAtStop: await Promise.all(stops) };
    } finally {
      unsubscribe();
      await nc.close();
    }
  }

  it("tells no instance to stop when it fails before the record goes, and leaves it all in place", async () => {
    const id = await conversation();
    const { error, recordThereAtStop } = await deleteAs("no-record-writes", id);
    expect(error).toBeInstanceOf(Error);
    expect(recordThereAtStop).toEqual([]);
    expect(await store.getConversation(OWNER, id)).not.toBeNull();
    expect(await logMessages(id)).toBe(2);
  });

  it("tells instances to stop only once the record is gone when it fails at the purge, and a retry finishes it", async () => {
    const id = await conversation();
    const { error, recordThereAtStop } = await deleteAs("no-log-purge", id);
    expect(error).toBeInstanceOf(Error);
    expect(recordThereAtStop).toEqual([false]);
    // Gone for clients; the log waits for the next delete.
    expect(await store.getConversation(OWNER, id)).toBeNull();
    expect(await logMessages(id)).toBe(2);

    const retry = await deleteAs("admin", id);
    expect(retry.error).toBeUndefined();
    expect(retry.recordThereAtStop).toEqual([false]);
    expect(await logMessages(id)).toBe(0);
    // Not even the marker of the delete is left.
    expect(await recordEntries(id)).toBe(0);
  });
});
