// Conversations and their logs in NATS JetStream. Every API instance reads and
// writes the same streams, which is what lets any instance serve any request,
// including the resume of an answer another instance is still generating.
// Every failure NATS reports leaves as a StoreError (store-errors.ts): a 503
// for clients.
import {
  jetstream,
  jetstreamManager,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type OrderedConsumerOptions,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { recordBytes } from "../chat/storage-quota.js";
import type { ChatTurn } from "../providers/types.js";
import { fitInBytes } from "./context-size.js";
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

/** The streams the store uses: the log and its buckets' streams. */
export const STORE_STREAMS = [
  CONVERSATIONS_STREAM,
  ...[CONVERSATIONS_BUCKET, CONTEXTS_BUCKET, ACTIVE_ANSWERS_BUCKET].map((b) => `KV_${b}`),
] as const;

/** A user's slot held by an answer in progress, with the revision its renewals compare against. */
export interface AnswerSlot {
  key: string;
  revision: number;
}

export interface StoredContext {
  turns: ChatTurn[];
  revision: number;
}

/** Conversations whose log sizes one headers-only consumer reads. */
const SIZE_SCAN_GROUP = 64;
/** Messages of a page fetched (with their answers) at once. */
const PAGE_FETCH = 8;
/** A context is one NATS message: under the 1 MB max_payload, JSON included. */
const MAX_CONTEXT_BYTES = 900 * 1024;

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
    // A separate manager with a short timeout, so /health reads quickly.
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

  /**
   * Sizes of every stream the store uses, for /health and /metrics, in one
   * JetStream API request (a page of up to 256 streams' info: an account
   * holds a handful). Throws when JetStream cannot answer.
   */
  async allUsage(): Promise<Array<StreamUsage & { stream: string }>> {
    const names = new Set<string>(STORE_STREAMS);
    const page = await this.probe.streams.list().next();
    return page
      .filter((info) => names.has(info.config.name))
      .map((info) => ({
        stream: info.config.name,
        bytes: info.state.bytes,
        messages: info.state.messages,
        maxBytes: Math.max(0, info.config.max_bytes),
      }));
  }

  // --- Conversations -------------------------------------------------------

  createConversation(owner: string, record: ConversationRecord): Promise<void> {
    return guard(async () => {
      await this.conversations.create(keys.conversation(owner, record.id), JSON.stringify(record));
    });
  }

  async getConversation(owner: string, id: string): Promise<ConversationRecord | null> {
    return (await this.findConversation(owner, id))?.record ?? null;
  }

  /** The conversation's record with its revision (for a compare-and-set). */
  findConversation(owner: string, id: string): Promise<{ record: ConversationRecord; revision: number } | null> {
    if (!isId(id)) return Promise.resolve(null);
    return guard(async () => {
      const entry = await this.conversations.get(keys.conversation(owner, id));
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
        await this.conversations.update(
          keys.conversation(owner, record.id),
          JSON.stringify({ ...record, updatedAt: at }),
          revision,
        );
      } catch (err) {
        if (!isTaken(err)) throw err;
      }
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
   * Removes a conversation: every instance is told to stop its answers, its
   * log and context go, then its record, then the log once more for what
   * was written meanwhile. Until the record goes, a failed delete can be
   * retried. Whatever writes after that (an answer still ending, a resume
   * ending a dead answer) checks the record after writing and cleans up
   * after itself (ChatStore.finishAnswerIfKept, Generation).
   */
  deleteConversation(owner: string, id: string): Promise<boolean> {
    return guard(async () => {
      if (!(await this.getConversation(owner, id))) return false;
      this.nc.publish(subjects.stop(id));
      await this.purgeConversationData(id);
      await this.removeKey(CONVERSATIONS_BUCKET, keys.conversation(owner, id));
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
        if (isTaken(err)) return false;
        throw err;
      }
      await dropBatches();
      return true;
    });
  }

  /**
   * finishAnswer for a writer other than the answer's generator: only into a
   * conversation that still exists, and if it was deleted meanwhile, its log
   * goes again (see deleteConversation).
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

  /** The conversation's whole log, in order (for tools and tests: the API reads pages, readPage). */
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

  /** The turns last sent to the model with their answer, and the entry's revision; null if none were kept. */
  getContext(conversationId: string): Promise<StoredContext | null> {
    return guard(async () => {
      const entry = await this.contexts.get(keys.context(conversationId));
      return entry && entry.operation === "PUT"
        ? { turns: entry.json<{ turns: ChatTurn[] }>().turns, revision: entry.revision }
        : null;
    });
  }

  /**
   * Replaces the context read at `revision` (0: there was none). When
   * another answer replaced it meanwhile, or it cannot be stored, the entry
   * goes: the next message then rebuilds it from the log, rather than
   * answering from a context that misses an exchange.
   */
  putContext(conversationId: string, turns: ChatTurn[], revision: number): Promise<boolean> {
    return guard(async () => {
      const key = keys.context(conversationId);
      try {
        await this.contexts.put(key, JSON.stringify({ turns: fitInBytes(turns, MAX_CONTEXT_BYTES) }), {
          previousSeq: revision,
        });
        return true;
      } catch (err) {
        await this.removeKey(CONTEXTS_BUCKET, key).catch(() => undefined);
        if (isTaken(err)) return false;
        throw err;
      }
    });
  }

  /** Drops a conversation's stored context: the next message rebuilds it from the log. */
  forgetContext(conversationId: string): Promise<void> {
    return guard(() => this.removeKey(CONTEXTS_BUCKET, keys.context(conversationId)));
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

  /**
   * Keeps a slot alive. A slot that lapsed (NATS away for longer than the
   * lease) is taken again if it is still free; false if another answer has
   * it now.
   */
  renewAnswerSlot(slot: AnswerSlot, replyId: string, instanceId: string): Promise<boolean> {
    return guard(async () => {
      const value = JSON.stringify({ replyId, instanceId });
      for (const previousSeq of [slot.revision, 0]) {
        try {
          slot.revision = await this.activeAnswers.put(slot.key, value, { previousSeq });
          return true;
        } catch (err) {
          if (!isTaken(err)) throw err;
        }
      }
      return false;
    });
  }

  /**
   * Frees a slot: removed outright, so the next answer takes it in one
   * publish; but only while it is still this answer's (a lapsed slot may be
   * another's by now).
   */
  releaseAnswerSlot(slot: AnswerSlot): Promise<void> {
    return guard(async () => {
      const entry = await this.activeAnswers.get(slot.key);
      if (entry?.revision === slot.revision) await this.removeKey(ACTIVE_ANSWERS_BUCKET, slot.key);
    });
  }

  /**
   * Is the answer's generator alive? Its owner's `slots` keys are read
   * directly; an instance of an older version keeps its lease in another bucket.
   */
  isActive(owner: string, replyId: string, slots: number): Promise<boolean> {
    return guard(async () => {
      const entries = await Promise.all(
        Array.from({ length: slots }, (_, i) => this.activeAnswers.get(keys.answerSlot(owner, i))),
      );
      if (entries.some((e) => e?.operation === "PUT" && e.json<{ replyId: string }>().replyId === replyId)) return true;
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

  /**
   * Every message a filter matches now, through one short-lived ordered
   * consumer. Fetched with a deadline: messages purged between the count and
   * their delivery must not leave the read waiting for ever.
   */
  private async readAll(stream: string, config: Partial<OrderedConsumerOptions>): Promise<JsMsg[]> {
    const records: JsMsg[] = [];
    await this.scan(stream, config, (m) => void records.push(m));
    return records;
  }

  /** readAll, handing each message on instead of keeping them all. */
  private async scan(stream: string, config: Partial<OrderedConsumerOptions>, visit: (m: JsMsg) => void) {
    const consumer = await this.js.consumers.get(stream, config);
    try {
      let pending = (await consumer.info(true)).num_pending;
      while (pending > 0) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, 1000), expires: 2000 });
        let got = 0;
        for await (const m of batch) {
          visit(m);
          got++;
          pending = m.info.pending;
        }
        if (got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  // --- Sizes, for the storage quota ----------------------------------------

  /** A conversation's record as stored: its subject and payload. */
  conversationRecordSubject(owner: string, id: string): string {
    return `$KV.${CONVERSATIONS_BUCKET}.${keys.conversation(owner, id)}`;
  }

  /**
   * The bytes (payload and subject) of what conversations keep in the log:
   * users' messages and ended answers; not the event batches of answers in
   * progress, which their record replaces. Read from headers only (JetStream
   * sends each message's size, not its body), a few conversations per consumer.
   */
  logBytes(conversationIds: readonly string[]): Promise<Map<string, number>> {
    return guard(async () => {
      const sizes = new Map<string, number>(conversationIds.map((id) => [id, 0]));
      for (let i = 0; i < conversationIds.length; i += SIZE_SCAN_GROUP) {
        const group = conversationIds.slice(i, i + SIZE_SCAN_GROUP);
        await this.scan(
          CONVERSATIONS_STREAM,
          {
            filter_subjects: group.map((id) => subjects.conversation(id)),
            deliver_policy: DeliverPolicy.All,
            headers_only: true,
          },
          (m) => {
            const [, id, kind] = m.subject.split(".");
            if (kind === "live" || !id || !sizes.has(id)) return;
            sizes.set(id, sizes.get(id)! + recordBytes(m.subject, Number(m.headers?.get("Nats-Msg-Size") ?? 0)));
          },
        );
      }
      return sizes;
    });
  }

  /** Every conversation of this owner with the size of its record, headers only. */
  conversationRecordSizes(owner: string): Promise<Array<{ id: string; subject: string; size: number }>> {
    return guard(async () => {
      const found: Array<{ id: string; subject: string; size: number }> = [];
      await this.scan(
        `KV_${CONVERSATIONS_BUCKET}`,
        {
          filter_subjects: [`$KV.${CONVERSATIONS_BUCKET}.${keys.conversationsOf(owner)}`],
          deliver_policy: DeliverPolicy.LastPerSubject,
          headers_only: true,
        },
        (m) => {
          if (m.headers?.get("KV-Operation")) return;
          const id = m.subject.split(".").at(-1)!;
          if (isId(id)) found.push({ id, subject: m.subject, size: Number(m.headers?.get("Nats-Msg-Size") ?? 0) });
        },
      );
      return found;
    });
  }

  // --- Reading a conversation a page at a time -------------------------------

  /**
   * Up to `limit` of a conversation's messages from stream sequence `after`
   * on, each with its answer's records, stopping once the page holds
   * `maxBytes` (one message at least): a conversation of any length is read
   * in bounded memory. `next` is where the next page starts; null at the end.
   */
  readPage(
    conversationId: string,
    page: { after: number; limit: number; maxBytes: number },
  ): Promise<{ log: LogRecord[]; next: number | null }> {
    return guard(async () => {
      const consumer = await this.js.consumers.get(CONVERSATIONS_STREAM, {
        filter_subjects: [subjects.userMessages(conversationId)],
        ...(page.after > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: page.after + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      });
      try {
        let pending = (await consumer.info(true)).num_pending;
        const log: LogRecord[] = [];
        let bytes = 0;
        let turns = 0;
        let last = page.after;
        while (pending > 0 && turns < page.limit && bytes < page.maxBytes) {
          const batch = await consumer.fetch({
            max_messages: Math.min(pending, page.limit - turns, PAGE_FETCH),
            expires: 2000,
          });
          const users: JsMsg[] = [];
          for await (const m of batch) {
            users.push(m);
            pending = m.info.pending;
          }
          if (users.length === 0) break;
          const answers = await Promise.all(
            users.map((m) => this.answerRecords(conversationId, m.json<UserMessageRecord>().replyId)),
          );
          for (const [i, m] of users.entries()) {
            if (turns > 0 && bytes >= page.maxBytes) {
              // Fetched but not sent: the next page starts with it.
              pending = 1;
              break;
            }
            log.push(m.json<UserMessageRecord>(), ...answers[i]!.records);
            bytes += m.data.length + answers[i]!.bytes;
            turns++;
            last = m.seq;
          }
        }
        return { log, next: pending > 0 ? last : null };
      } finally {
        await consumer.delete().catch(() => undefined);
      }
    });
  }

  /**
   * The log of a conversation's last `turns` messages and their answers,
   * found from the messages' headers only: a context rebuilt from the log
   * reads no more of a long conversation than it can use.
   */
  readRecentTurns(conversationId: string, turns: number): Promise<LogRecord[]> {
    return guard(async () => {
      const recent: number[] = [];
      await this.scan(
        CONVERSATIONS_STREAM,
        {
          filter_subjects: [subjects.userMessages(conversationId)],
          deliver_policy: DeliverPolicy.All,
          headers_only: true,
        },
        (m) => {
          recent.push(m.seq);
          if (recent.length > turns) recent.shift();
        },
      );
      const log: LogRecord[] = [];
      for (const seq of recent) {
        const found = await this.jsm.streams.getMessage(CONVERSATIONS_STREAM, { seq });
        // Gone since the scan (retention, a delete): skipped.
        if (!found) continue;
        const user = found.json<UserMessageRecord>();
        log.push(user, ...(await this.answerRecords(conversationId, user.replyId)).records);
      }
      return log;
    });
  }

  /** An answer's compacted record, or else the events stored so far; with their bytes. */
  private async answerRecords(
    conversationId: string,
    replyId: string,
  ): Promise<{ records: LogRecord[]; bytes: number }> {
    const found = await this.jsm.streams.getMessage(CONVERSATIONS_STREAM, {
      last_by_subj: subjects.answer(conversationId, replyId),
    });
    if (found) return { records: [found.json<AnswerRecord>()], bytes: found.data.length };
    const events = await this.readAll(CONVERSATIONS_STREAM, {
      filter_subjects: [subjects.liveEvents(conversationId, replyId), subjects.legacyEvents(conversationId, replyId)],
      deliver_policy: DeliverPolicy.All,
    });
    return { records: events.map((m) => m.json<LogRecord>()), bytes: events.reduce((n, m) => n + m.data.length, 0) };
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
    throw classifyStoreError(err) ?? err;
  }
}
