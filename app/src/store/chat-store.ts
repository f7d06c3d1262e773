// Conversations and their logs in NATS JetStream. Every API instance reads and
// writes the same streams, which is what lets any instance serve any request,
// including the resume of an answer another instance is still generating.
// Every failure NATS reports leaves as a StoreError (store-errors.ts): a 503
// for clients. Here: conversations' records and their log's writes and
// follows; its pages, the contexts, the answers' leases, the sizes the quota
// reads and the usage /health reads are modules of their own, reached
// through the store's fields.
import {
  jetstream,
  jetstreamManager,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { AnswerSlots } from "./answer-slots.js";
import { ConversationContexts } from "./conversation-contexts.js";
import { ConversationPages } from "./conversation-pages.js";
import { ensureStorage, type Storage } from "./ensure-storage.js";
import type {
  AnswerRecord,
  ConversationRecord,
  EventBatchRecord,
  LogRecord,
  StreamEvent,
  UserMessageRecord,
} from "./records.js";
import type { StorageOptions } from "./storage-config.js";
import { StoredSizes } from "./stored-sizes.js";
import { StoreUsage } from "./store-usage.js";
import { isCasConflict, isKvMarker, kvStream, kvSubject, removeKey } from "./kv-internals.js";
import { classifyStoreError, guard } from "./store-errors.js";
import { readStream } from "./stream-reads.js";
import {
  CONTEXTS_BUCKET,
  CONVERSATIONS_BUCKET,
  CONVERSATIONS_STREAM,
  STOP_SUBJECT_PREFIX,
  isId,
  keys,
  subjects,
} from "./subjects.js";

const REQUEST_TIMEOUT_MS = 5_000;

export class ChatStore {
  /** The log read in bounded pieces: pages for clients, recent turns for a context. */
  readonly pages: ConversationPages;
  /** What conversations take in the store, for the storage quota. */
  readonly sizes: StoredSizes;
  /** Each conversation's context for the model. */
  readonly contexts: ConversationContexts;
  /** How full the store's streams are, for /health and /metrics. */
  readonly usage: StoreUsage;
  /** Each user's slots for answers in progress, and the leases answers hold on them. */
  readonly slots: AnswerSlots;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    probe: JetStreamManager,
    private storage: Storage,
    private readonly options: StorageOptions,
    private readonly log: Logger | undefined,
  ) {
    this.usage = new StoreUsage(probe);
    this.pages = new ConversationPages(js, jsm);
    this.sizes = new StoredSizes(js);
    this.contexts = new ConversationContexts(() => this.storage.contexts, jsm);
    this.slots = new AnswerSlots(() => this.storage.answerLeases, jsm);
  }

  /** Opens the store, creating its streams and buckets or updating their settings. */
  static async open(nc: NatsConnection, options: StorageOptions, log?: Logger): Promise<ChatStore> {
    const jsm = await jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS });
    const js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
    const storage = await ensureStorage(js, jsm, options, log);
    // A separate manager with a short timeout, so /health reads quickly.
    const probe = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
    return new ChatStore(nc, js, jsm, probe, storage, options, log);
  }

  /**
   * Creates whatever is missing again: after NATS comes back with an empty
   * store (a lost volume), the API must not stay broken until restarted.
   */
  async ensure(): Promise<void> {
    this.storage = await ensureStorage(this.js, this.jsm, this.options, this.log);
  }

  // --- Conversations -------------------------------------------------------

  createConversation(owner: string, record: ConversationRecord): Promise<void> {
    return guard(async () => {
      await this.storage.conversations.create(keys.conversation(owner, record.id), JSON.stringify(record));
    });
  }

  async getConversation(owner: string, id: string): Promise<ConversationRecord | null> {
    return (await this.findConversation(owner, id))?.record ?? null;
  }

  /** The conversation's record with its revision (for a compare-and-set). */
  findConversation(owner: string, id: string): Promise<{ record: ConversationRecord; revision: number } | null> {
    if (!isId(id)) return Promise.resolve(null);
    return guard(async () => {
      const entry = await this.storage.conversations.get(keys.conversation(owner, id));
      return entry && entry.operation === "PUT"
        ? { record: entry.json<ConversationRecord>(), revision: entry.revision }
        : null;
    });
  }

  /**
   * Records the conversation's last activity (and keeps it from expiring with
   * the retention), only over the revision read: a conversation deleted (or
   * touched) meanwhile is left as it is.
   */
  touchConversation(owner: string, record: ConversationRecord, revision: number, at: string): Promise<void> {
    return guard(async () => {
      try {
        await this.storage.conversations.update(
          keys.conversation(owner, record.id),
          JSON.stringify({ ...record, updatedAt: at }),
          revision,
        );
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    });
  }

  /** Every conversation of this owner, read in one pass over the bucket. */
  listConversations(owner: string): Promise<ConversationRecord[]> {
    return guard(async () => {
      const messages = await readStream(this.js, kvStream(CONVERSATIONS_BUCKET), {
        filter_subjects: [kvSubject(CONVERSATIONS_BUCKET, keys.conversationsOf(owner))],
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      // Deleted conversations leave a marker with an empty body.
      return messages
        .filter((m) => m.data.length > 0 && !isKvMarker(m.headers))
        .map((m) => m.json<ConversationRecord>());
    });
  }

  /**
   * What the bucket holds under a conversation's key: its record with the
   * revision a removal compares against, "removed" while a delete that took
   * the record away has not finished, or null.
   */
  conversationEntry(
    owner: string,
    id: string,
  ): Promise<{ record: ConversationRecord; revision: number } | "removed" | null> {
    if (!isId(id)) return Promise.resolve(null);
    return guard(async () => {
      const entry = await this.storage.conversations.get(keys.conversation(owner, id));
      if (!entry) return null;
      return entry.operation === "PUT"
        ? { record: entry.json<ConversationRecord>(), revision: entry.revision }
        : "removed";
    });
  }

  /**
   * Takes a conversation's record away, only over the revision read: of
   * deletes that race, one wins. A marker takes its place until
   * finishRemoval, so a delete cut short is finished by the next one. False
   * if the record changed or went meanwhile.
   */
  removeConversation(owner: string, id: string, revision: number): Promise<boolean> {
    return guard(async () => {
      try {
        await this.storage.conversations.purge(keys.conversation(owner, id), { previousSeq: revision });
        return true;
      } catch (err) {
        if (isCasConflict(err)) return false;
        throw err;
      }
    });
  }

  /**
   * The rest of a delete, once the record is gone: every instance is told to
   * stop the conversation's answers and end its resume streams, then its log,
   * its context and the marker go. Whatever writes after that (an answer
   * still ending, a resume ending a dead answer) finds no record and removes
   * the log again (finishAnswerIfKept, Generation).
   */
  finishRemoval(owner: string, id: string): Promise<void> {
    return guard(async () => {
      this.nc.publish(subjects.stop(id));
      await this.purgeConversationData(id);
      await removeKey(this.jsm, CONVERSATIONS_BUCKET, keys.conversation(owner, id));
    });
  }

  /** Removes a conversation's log and context, whatever its record says. */
  purgeConversationData(id: string): Promise<void> {
    return guard(async () => {
      await this.jsm.streams.purge(CONVERSATIONS_STREAM, { filter: subjects.conversation(id) });
      await removeKey(this.jsm, CONTEXTS_BUCKET, keys.context(id));
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
   * Stores an ended answer as one record and drops its event batches. The
   * record is only written on an empty subject: whoever ends an answer first
   * (its generator, or a reader that found the generator dead) wins, for
   * good. Returns false if another end won.
   */
  finishAnswer(
    conversationId: string,
    answer: AnswerRecord,
    options: { legacyEvents?: boolean } = {},
  ): Promise<boolean> {
    return guard(async () => {
      const dropBatches = async () => {
        // Readers following the batches get the record next, in stream
        // order, or find it when they start: the batches can go.
        await this.jsm.streams.purge(CONVERSATIONS_STREAM, {
          filter: subjects.liveEvents(conversationId, answer.replyId),
        });
        if (options.legacyEvents) {
          await this.jsm.streams.purge(CONVERSATIONS_STREAM, {
            filter: subjects.legacyEvents(conversationId, answer.replyId),
          });
        }
      };
      const publish = () =>
        this.js.publish(subjects.answer(conversationId, answer.replyId), JSON.stringify(answer), {
          expect: { lastSubjectSequence: 0 },
        });
      try {
        try {
          await publish();
        } catch (err) {
          // A full store: the batches' room is the record's (it holds no more than they do).
          if (classifyStoreError(err)?.reason !== "full") throw err;
          await dropBatches();
          await publish();
          return true;
        }
      } catch (err) {
        if (isCasConflict(err)) return false;
        throw err;
      }
      await dropBatches();
      return true;
    });
  }

  /**
   * finishAnswer for a writer other than the answer's generator: only into a
   * conversation that still exists, and if it was deleted meanwhile, its log
   * goes again (see finishRemoval).
   */
  async finishAnswerIfKept(
    owner: string,
    conversationId: string,
    answer: AnswerRecord,
    options: { legacyEvents?: boolean } = {},
  ): Promise<boolean> {
    if (!(await this.getConversation(owner, conversationId))) return false;
    const won = await this.finishAnswer(conversationId, answer, options);
    if (!(await this.getConversation(owner, conversationId))) {
      await this.purgeConversationData(conversationId);
      return false;
    }
    return won;
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
}
