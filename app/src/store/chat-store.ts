// Conversations and their logs in NATS JetStream. Every API instance reads and
// writes the same streams, which is what lets any instance serve any request,
// including the resume of an answer another instance is still generating.
// Every failure leaves as a StoreError (store-errors.ts): a 503 for clients.
import {
  jetstream,
  jetstreamManager,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ChatTurn } from "../providers/types.js";
import { ensureStorage } from "./ensure-storage.js";
import type {
  AnswerRecord,
  ConversationRecord,
  EventBatchRecord,
  LogRecord,
  StreamEvent,
  UserMessageRecord,
} from "./records.js";
import type { StorageOptions } from "./storage-config.js";
import { classifyStoreError } from "./store-errors.js";
import {
  ACTIVE_ANSWERS_BUCKET,
  CONTEXTS_BUCKET,
  CONVERSATIONS_BUCKET,
  CONVERSATIONS_STREAM,
  LEGACY_LEASES_BUCKET,
  STOP_SUBJECT_PREFIX,
  isId,
  keys,
  subjects,
} from "./subjects.js";

const REQUEST_TIMEOUT_MS = 5_000;

/** A user's slot held by an answer in progress, with the revision its renewals compare against. */
export interface AnswerSlot {
  key: string;
  revision: number;
}

export interface StreamUsage {
  bytes: number;
  messages: number;
  /** 0: no limit. */
  maxBytes: number;
}

export class ChatStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly probe: JetStreamManager,
    private conversations: KV,
    private contexts: KV,
    private activeAnswers: KV,
    private readonly options: StorageOptions,
    private readonly log: Logger | undefined,
  ) {}

  /** Opens the store, creating its streams and buckets or updating their settings. */
  static async open(nc: NatsConnection, options: StorageOptions, log?: Logger): Promise<ChatStore> {
    const jsm = await jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS });
    const js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
    const { conversations, contexts, activeAnswers } = await ensureStorage(js, jsm, options, log);
    // A separate manager with a short timeout, so /health answers quickly.
    const probe = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
    return new ChatStore(nc, js, jsm, probe, conversations, contexts, activeAnswers, options, log);
  }

  /**
   * Creates whatever is missing again: after NATS comes back with an empty
   * store (a lost volume), the API must not stay broken until restarted.
   */
  async ensure(): Promise<void> {
    const storage = await ensureStorage(this.js, this.jsm, this.options, this.log);
    this.conversations = storage.conversations;
    this.contexts = storage.contexts;
    this.activeAnswers = storage.activeAnswers;
  }

  /** The conversation log's size against its limit; throws when JetStream cannot answer. */
  async usage(): Promise<StreamUsage> {
    const info = await this.probe.streams.info(CONVERSATIONS_STREAM);
    return { bytes: info.state.bytes, messages: info.state.messages, maxBytes: Math.max(0, info.config.max_bytes) };
  }

  /** Sizes of every stream the store uses, for /metrics. */
  async allUsage(): Promise<Array<StreamUsage & { stream: string }>> {
    const names = [
      CONVERSATIONS_STREAM,
      ...[CONVERSATIONS_BUCKET, CONTEXTS_BUCKET, ACTIVE_ANSWERS_BUCKET].map((b) => `KV_${b}`),
    ];
    return Promise.all(
      names.map(async (stream) => {
        const info = await this.probe.streams.info(stream);
        return {
          stream,
          bytes: info.state.bytes,
          messages: info.state.messages,
          maxBytes: Math.max(0, info.config.max_bytes),
        };
      }),
    );
  }

  // --- Conversations -------------------------------------------------------

  createConversation(owner: string, record: ConversationRecord): Promise<void> {
    return guard(async () => {
      await this.conversations.create(keys.conversation(owner, record.id), JSON.stringify(record));
    });
  }

  getConversation(owner: string, id: string): Promise<ConversationRecord | null> {
    if (!isId(id)) return Promise.resolve(null);
    return guard(async () => {
      const entry = await this.conversations.get(keys.conversation(owner, id));
      return entry && entry.operation === "PUT" ? entry.json<ConversationRecord>() : null;
    });
  }

  /** Records the conversation's last activity (and keeps it from expiring with the retention). */
  touchConversation(owner: string, record: ConversationRecord, at: string): Promise<void> {
    return guard(async () => {
      await this.conversations.put(keys.conversation(owner, record.id), JSON.stringify({ ...record, updatedAt: at }));
    });
  }

  /** Every conversation of this owner, read in one pass over the bucket. */
  listConversations(owner: string): Promise<ConversationRecord[]> {
    return guard(async () => {
      const messages = await this.readAll(`KV_${CONVERSATIONS_BUCKET}`, {
        filter_subjects: [`$KV.${CONVERSATIONS_BUCKET}.${keys.conversationsOf(owner)}`],
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      // Deleted conversations leave a marker with an empty body.
      return messages
        .filter((m) => m.data.length > 0 && !m.headers?.get("KV-Operation"))
        .map((m) => m.json<ConversationRecord>());
    });
  }

  /**
   * Removes a conversation: first its record (no new message can start),
   * then every instance is told to stop its answers, then its log and
   * context go. A generator that still writes after this cleans up after
   * itself when it ends (see Generation).
   */
  deleteConversation(owner: string, id: string): Promise<boolean> {
    return guard(async () => {
      if (!(await this.getConversation(owner, id))) return false;
      await this.removeKey(CONVERSATIONS_BUCKET, keys.conversation(owner, id));
      this.nc.publish(subjects.stop(id));
      await this.purgeConversationData(id);
      return true;
    });
  }

  /** Removes a conversation's log and context, whatever its record says. */
  purgeConversationData(id: string): Promise<void> {
    return guard(async () => {
      await this.jsm.streams.purge(CONVERSATIONS_STREAM, { filter: subjects.conversation(id) });
      await this.removeKey(CONTEXTS_BUCKET, keys.context(id));
    });
  }

  /** Calls `onStop` with a conversation id whenever any instance deletes one. */
  onConversationStopped(onStop: (conversationId: string) => void): () => void {
    const subscription = this.nc.subscribe(`${STOP_SUBJECT_PREFIX}.*`, {
      callback: (_err, msg) => {
        const id = msg.subject.split(".").at(-1)!;
        if (isId(id)) onStop(id);
      },
    });
    return () => subscription.unsubscribe();
  }

  // --- The log -------------------------------------------------------------

  appendUserMessage(conversationId: string, record: UserMessageRecord): Promise<void> {
    return guard(async () => {
      await this.js.publish(subjects.userMessage(conversationId, record.replyId), JSON.stringify(record), {
        msgID: `msg:${record.id}`,
      });
    });
  }

  /** Stores a batch of an answer's events; a retried batch is dropped by its id. */
  appendEvents(conversationId: string, replyId: string, events: StreamEvent[]): Promise<void> {
    return guard(async () => {
      const record: EventBatchRecord = { kind: "events", replyId, events };
      await this.js.publish(subjects.liveEvents(conversationId, replyId), JSON.stringify(record), {
        msgID: `${replyId}:${events[0]!.seq}-${events.at(-1)!.seq}`,
      });
    });
  }

  /**
   * Stores an ended answer as one record and drops its event batches. One id
   * for every end: whoever ends an answer first (its generator, or a reader
   * that found the generator dead) wins. Returns false if another end won.
   */
  finishAnswer(
    conversationId: string,
    answer: AnswerRecord,
    options: { legacyEvents?: boolean } = {},
  ): Promise<boolean> {
    return guard(async () => {
      const ack = await this.js.publish(subjects.answer(conversationId, answer.replyId), JSON.stringify(answer), {
        msgID: `${answer.replyId}:answer`,
      });
      // Readers following the batches get this record next, in stream order,
      // so the batches can go at once.
      await this.jsm.streams.purge(CONVERSATIONS_STREAM, {
        filter: subjects.liveEvents(conversationId, answer.replyId),
      });
      if (options.legacyEvents) {
        await this.jsm.streams.purge(CONVERSATIONS_STREAM, {
          filter: subjects.legacyEvents(conversationId, answer.replyId),
        });
      }
      return !ack.duplicate;
    });
  }

  getAnswer(conversationId: string, replyId: string): Promise<AnswerRecord | null> {
    return guard(async () => {
      const found = await this.jsm.streams.getMessage(CONVERSATIONS_STREAM, {
        last_by_subj: subjects.answer(conversationId, replyId),
      });
      return found ? found.json<AnswerRecord>() : null;
    });
  }

  /** Does the log hold an answer with this id? */
  replyExists(conversationId: string, replyId: string): Promise<boolean> {
    if (!isId(replyId)) return Promise.resolve(false);
    return guard(async () => {
      const found = await this.jsm.streams.getMessage(CONVERSATIONS_STREAM, {
        last_by_subj: subjects.userMessage(conversationId, replyId),
      });
      return found !== null;
    });
  }

  /** The conversation's log, in order: a record per message once answers are compacted. */
  readLog(conversationId: string): Promise<LogRecord[]> {
    return guard(async () => {
      const messages = await this.readAll(CONVERSATIONS_STREAM, {
        filter_subjects: [subjects.conversation(conversationId)],
        deliver_policy: DeliverPolicy.All,
      });
      return messages.map((m) => m.json<LogRecord>());
    });
  }

  /**
   * Delivers an answer's records (event batches, single events of older
   * versions, then its compacted record) live as they are appended, until
   * `onRecord` returns false or `stop()` is called.
   */
  followReply(
    conversationId: string,
    replyId: string,
    onRecord: (record: LogRecord) => boolean,
  ): Promise<{ done: Promise<void>; stop: () => void }> {
    return guard(async () => {
      const consumer = await this.js.consumers.get(CONVERSATIONS_STREAM, {
        filter_subjects: [
          subjects.liveEvents(conversationId, replyId),
          subjects.legacyEvents(conversationId, replyId),
          subjects.answer(conversationId, replyId),
        ],
        deliver_policy: DeliverPolicy.All,
      });
      const messages = await consumer.consume({ max_messages: 256 });
      const done = (async () => {
        try {
          for await (const m of messages as AsyncIterable<JsMsg>) {
            if (!onRecord(m.json<LogRecord>())) break;
          }
        } finally {
          await consumer.delete().catch(() => undefined);
        }
      })();
      return { done, stop: () => void messages.stop() };
    });
  }

  // --- Context for the model -------------------------------------------------

  /** The turns last sent to the model with their answer, or null if none were kept. */
  getContext(conversationId: string): Promise<ChatTurn[] | null> {
    return guard(async () => {
      const entry = await this.contexts.get(keys.context(conversationId));
      return entry && entry.operation === "PUT" ? entry.json<{ turns: ChatTurn[] }>().turns : null;
    });
  }

  putContext(conversationId: string, turns: ChatTurn[]): Promise<void> {
    return guard(async () => {
      await this.contexts.put(keys.context(conversationId), JSON.stringify({ turns }));
    });
  }

  // --- Answers in progress -------------------------------------------------

  /**
   * Takes one of the owner's `slots` for an answer: a key created only if it
   * is free (one publish in the common case; no JetStream API call, which
   * the server queues). Slots expire unless renewed, so a dead instance's
   * answers free theirs. Null when all are taken.
   */
  acquireAnswerSlot(owner: string, replyId: string, instanceId: string, slots: number): Promise<AnswerSlot | null> {
    return guard(async () => {
      const value = JSON.stringify({ replyId, instanceId });
      // From a random slot on: with many slots taken, the first try is still likely free.
      const first = Math.floor(Math.random() * slots);
      for (let i = 0; i < slots; i++) {
        const key = keys.answerSlot(owner, (first + i) % slots);
        try {
          // Created only if the key holds nothing (expired or removed).
          return { key, revision: await this.activeAnswers.put(key, value, { previousSeq: 0 }) };
        } catch (err) {
          if (!isTaken(err)) throw err;
        }
      }
      return null;
    });
  }

  /** Keeps a slot alive; false if it had expired and was taken by another answer. */
  renewAnswerSlot(slot: AnswerSlot, replyId: string, instanceId: string): Promise<boolean> {
    return guard(async () => {
      try {
        slot.revision = await this.activeAnswers.update(
          slot.key,
          JSON.stringify({ replyId, instanceId }),
          slot.revision,
        );
        return true;
      } catch (err) {
        if (isTaken(err)) return false;
        throw err;
      }
    });
  }

  /** Frees a slot: removed outright, so the next answer takes it in one publish. */
  releaseAnswerSlot(slot: AnswerSlot): Promise<void> {
    return guard(() => this.removeKey(ACTIVE_ANSWERS_BUCKET, slot.key));
  }

  /** Is the answer's generator alive? An instance of an older version keeps its lease in another bucket. */
  isActive(owner: string, replyId: string): Promise<boolean> {
    return guard(async () => {
      const slots = await this.readAll(`KV_${ACTIVE_ANSWERS_BUCKET}`, {
        filter_subjects: [`$KV.${ACTIVE_ANSWERS_BUCKET}.${keys.answerSlotsOf(owner)}`],
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      if (slots.some((m) => m.data.length > 0 && m.json<{ replyId: string }>().replyId === replyId)) return true;
      const legacy = await this.jsm.streams
        .getMessage(`KV_${LEGACY_LEASES_BUCKET}`, { last_by_subj: `$KV.${LEGACY_LEASES_BUCKET}.${replyId}` })
        .catch(() => null);
      return legacy !== null && !legacy.header?.get("KV-Operation");
    });
  }

  /** Removes a key's every revision; unlike a KV purge, no marker is left behind. */
  private async removeKey(bucket: string, key: string): Promise<void> {
    await this.jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${key}` });
  }

  /** Every message a filter matches now, through one short-lived ordered consumer. */
  private async readAll(stream: string, config: Partial<ConsumerConfig>): Promise<JsMsg[]> {
    const consumer = await this.js.consumers.get(stream, config);
    try {
      if ((await consumer.info(true)).num_pending === 0) return [];
      const records: JsMsg[] = [];
      const messages = await consumer.consume();
      for await (const m of messages) {
        records.push(m);
        if (m.info.pending === 0) break;
      }
      return records;
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }
}

/** A compare-and-set that lost: the key holds another revision. */
function isTaken(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyStoreError(err);
  }
}
