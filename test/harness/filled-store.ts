// A chat store filled the way the API fills it (conversations, user
// messages, contexts, answer events), and its log read back: what the backup
// tests take, restore and compare.
import { randomUUID } from "node:crypto";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChatStore } from "../../app/src/store/chat-store.js";
import { CONVERSATIONS_STREAM } from "../../app/src/store/subjects.js";

/** The user every filled conversation belongs to. */
export const OWNER = "backup-test-owner";
export const STORE_OPTIONS = { replicas: 1, leaseTtlMs: 30_000, retentionMs: 0, maxBytes: 256 * 1024 * 1024 };
/** A log function for what a test need not read. */
export const quiet = () => undefined;

/** Adds `conversations` conversations of OWNER's, each a user message and `eventsEach` event batches; returns their ids. */
export async function fill(store: ChatStore, conversations: number, eventsEach: number): Promise<string[]> {
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
export async function logOf(nc: NatsConnection, conversationId: string): Promise<unknown[]> {
  const consumer = await jetstream(nc).consumers.get(CONVERSATIONS_STREAM, {
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
