// Conversations and their logs in NATS JetStream. Every API instance reads and
// writes the same streams, which is what lets any instance serve any request,
// including the resume of an answer another instance is still generating.
import { createHash } from "node:crypto";
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ConversationRecord, LogRecord, ReplyEventRecord, StreamEvent, UserMessageRecord } from "./records.js";

export const STREAM = "CONVERSATIONS";
const CONVERSATIONS_BUCKET = "conversations";
const LEASES_BUCKET = "generation-leases";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PUBLISH_TIMEOUT_MS = 5_000;

export interface ChatStoreOptions {
  replicas: number;
  /** How long an answer's generator may go silent before it counts as dead. */
  leaseTtlMs: number;
}

export class ChatStore {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly probe: JetStreamManager,
    private readonly conversations: KV,
    private readonly leases: KV,
    private readonly options: ChatStoreOptions,
  ) {}

  /** Opens the store, creating its stream and buckets where missing. */
  static async open(nc: NatsConnection, options: ChatStoreOptions): Promise<ChatStore> {
    const jsm = await jetstreamManager(nc, { timeout: PUBLISH_TIMEOUT_MS });
    const js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    const { conversations, leases } = await ensureStorage(js, jsm, options);
    // A separate manager with a short timeout, so /health answers quickly.
    const probe = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
    return new ChatStore(js, jsm, probe, conversations, leases, options);
  }

  /**
   * Creates whatever is missing again: after NATS comes back with an empty
   * store (a lost volume), the API must not stay broken until restarted.
   */
  async ensure(): Promise<void> {
    await ensureStorage(this.js, this.jsm, this.options);
  }

  /** Can JetStream answer right now? Used by /health. */
  async ready(): Promise<boolean> {
    try {
      await this.probe.streams.info(STREAM);
      return true;
    } catch {
      return false;
    }
  }

  async createConversation(owner: string, record: ConversationRecord): Promise<void> {
    await this.conversations.create(conversationKey(owner, record.id), JSON.stringify(record));
  }

  async getConversation(owner: string, id: string): Promise<ConversationRecord | null> {
    if (!UUID.test(id)) return null;
    const entry = await this.conversations.get(conversationKey(owner, id));
    return entry && entry.operation === "PUT" ? entry.json<ConversationRecord>() : null;
  }

  async listConversations(owner: string): Promise<ConversationRecord[]> {
    const keys: string[] = [];
    for await (const key of await this.conversations.keys(`${ownerKey(owner)}.*`)) keys.push(key);
    const entries = await Promise.all(keys.map((key) => this.conversations.get(key)));
    return entries
      .filter((e) => e !== null && e.operation === "PUT")
      .map((e) => e!.json<ConversationRecord>())
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Removes the conversation and its whole log. Returns false if it was not there. */
  async deleteConversation(owner: string, id: string): Promise<boolean> {
    if (!(await this.getConversation(owner, id))) return false;
    await this.jsm.streams.purge(STREAM, { filter: `conv.${id}.>` });
    await this.conversations.purge(conversationKey(owner, id));
    return true;
  }

  async appendUserMessage(conversationId: string, record: UserMessageRecord): Promise<void> {
    assertId(conversationId);
    assertId(record.replyId);
    // Filed under the answer it starts, so an answer id alone finds it.
    await this.js.publish(`conv.${conversationId}.msg.${record.replyId}`, JSON.stringify(record), {
      msgID: `msg:${record.id}`,
    });
  }

  async appendEvent(conversationId: string, replyId: string, event: StreamEvent): Promise<void> {
    assertId(conversationId);
    assertId(replyId);
    const record: ReplyEventRecord = { kind: "event", replyId, event };
    // One id for every terminal event: whoever ends an answer first (its
    // generator, or a reader that found the generator dead) wins.
    const msgID = event.type === "delta" ? `${replyId}:${event.seq}` : `${replyId}:end`;
    await this.js.publish(`conv.${conversationId}.evt.${replyId}`, JSON.stringify(record), { msgID });
  }

  /** The conversation's whole log, in order. */
  async readLog(conversationId: string): Promise<LogRecord[]> {
    assertId(conversationId);
    const consumer = await this.js.consumers.get(STREAM, {
      filter_subjects: [`conv.${conversationId}.>`],
      deliver_policy: DeliverPolicy.All,
    });
    try {
      if ((await consumer.info(true)).num_pending === 0) return [];
      const records: LogRecord[] = [];
      const messages = await consumer.consume();
      for await (const m of messages) {
        records.push(m.json<LogRecord>());
        if (m.info.pending === 0) break;
      }
      return records;
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  /** Does the log hold an answer with this id? */
  async replyExists(conversationId: string, replyId: string): Promise<boolean> {
    if (!UUID.test(replyId)) return false;
    assertId(conversationId);
    const found = await this.jsm.streams.getMessage(STREAM, { last_by_subj: `conv.${conversationId}.msg.${replyId}` });
    return found !== null;
  }

  /**
   * Delivers an answer's events from the first one, live as they are
   * appended, until `onEvent` returns false or `stop()` is called. Works the
   * same whether the answer is finished, still being generated here, or on
   * another instance.
   */
  async followReply(
    conversationId: string,
    replyId: string,
    onEvent: (event: StreamEvent) => boolean,
  ): Promise<{ done: Promise<void>; stop: () => void }> {
    assertId(conversationId);
    assertId(replyId);
    const consumer = await this.js.consumers.get(STREAM, {
      filter_subjects: [`conv.${conversationId}.evt.${replyId}`],
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    const done = (async () => {
      try {
        for await (const m of messages as AsyncIterable<JsMsg>) {
          if (!onEvent(m.json<ReplyEventRecord>().event)) break;
        }
      } finally {
        await consumer.delete().catch(() => undefined);
      }
    })();
    return { done, stop: () => void messages.stop() };
  }

  async holdLease(replyId: string, instanceId: string): Promise<void> {
    await this.leases.put(replyId, JSON.stringify({ instanceId, at: new Date().toISOString() }));
  }

  async releaseLease(replyId: string): Promise<void> {
    await this.leases.purge(replyId);
  }

  async hasLease(replyId: string): Promise<boolean> {
    const entry = await this.leases.get(replyId);
    return entry !== null && entry.operation === "PUT";
  }
}

async function ensureStorage(js: JetStreamClient, jsm: JetStreamManager, options: ChatStoreOptions) {
  const config = {
    name: STREAM,
    subjects: ["conv.>"],
    storage: StorageType.File,
    num_replicas: options.replicas,
    // Retries of a publish within this window are dropped by message id.
    duplicate_window: 2 * 60 * 1_000_000_000,
  };
  const exists = await jsm.streams.info(STREAM).then(
    () => true,
    (err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return false;
      throw err;
    },
  );
  await (exists ? jsm.streams.update(STREAM, config) : jsm.streams.add(config));
  const kvm = new Kvm(js);
  const conversations = await kvm.create(CONVERSATIONS_BUCKET, { replicas: options.replicas, history: 1 });
  // File storage: a lease must survive a NATS restart, or every answer in
  // flight would look dead to readers afterwards.
  const leases = await kvm.create(LEASES_BUCKET, { replicas: options.replicas, history: 1, ttl: options.leaseTtlMs });
  return { conversations, leases };
}

/** Owners are hashed: a JWT `sub` may hold characters NATS subjects forbid. */
export function ownerKey(subject: string): string {
  return "u" + createHash("sha256").update(subject).digest("hex").slice(0, 40);
}

function conversationKey(owner: string, id: string): string {
  assertId(id);
  return `${ownerKey(owner)}.${id}`;
}

function assertId(id: string): void {
  // Ids end up in subjects; anything else could widen a filter (`*`, `>`).
  if (!UUID.test(id)) throw new Error(`invalid id for a subject: ${JSON.stringify(id)}`);
}
