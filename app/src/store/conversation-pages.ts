// Reading a conversation's log in bounded pieces: a page for clients (by
// their messages, each with its answer, up to a byte cap), and the last
// turns for a context rebuilt from the log. A conversation of any length is
// read in bounded memory.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { AnswerRecord, LogRecord, UserMessageRecord } from "./records.js";
import { guard } from "./store-errors.js";
import { readStream, scanStream } from "./stream-reads.js";
import { CONVERSATIONS_STREAM, subjects } from "./subjects.js";

/** Messages of a page fetched (with their answers) at once. */
const PAGE_FETCH = 8;

export interface PageRequest {
  /** Stream sequence after which the page starts (0: the beginning). */
  after: number;
  /** The user's messages at most; undefined: as many as fit in maxBytes. */
  limit: number | undefined;
  /** The page stops once its records hold this much (after one message at least). */
  maxBytes: number;
}

export class ConversationPages {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * A conversation's messages from stream sequence `after` on, each with its
   * answer's records, up to the page's limits. `next` is where the next page
   * starts; null at the end.
   */
  read(conversationId: string, page: PageRequest): Promise<{ log: LogRecord[]; next: number | null }> {
    return guard(async () => {
      const limit = page.limit ?? Number.POSITIVE_INFINITY;
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
        while (pending > 0 && turns < limit && bytes < page.maxBytes) {
          const batch = await consumer.fetch({
            max_messages: Math.min(pending, limit - turns, PAGE_FETCH),
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
  recentTurns(conversationId: string, turns: number): Promise<LogRecord[]> {
    return guard(async () => {
      const recent: number[] = [];
      await scanStream(
        this.js,
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
    const events = await readStream(this.js, CONVERSATIONS_STREAM, {
      filter_subjects: [subjects.liveEvents(conversationId, replyId), subjects.legacyEvents(conversationId, replyId)],
      deliver_policy: DeliverPolicy.All,
    });
    return { records: events.map((m) => m.json<LogRecord>()), bytes: events.reduce((n, m) => n + m.data.length, 0) };
  }
}
