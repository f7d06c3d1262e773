// What a resumed client is sent from an answer's stored records: every event
// after its Last-Event-ID, in order, never twice and never across a gap.
// Batches of events (and single events of older versions) are sent as they
// come; if one is missing, nothing more is sent until the compacted answer
// arrives, which holds every delta. Pure: the route feeds it records.
import {
  answerEvents,
  type AnswerRecord,
  type LogRecord,
  type StreamEvent,
  type TerminalEvent,
} from "../store/records.js";
import type { UnstoredEnd } from "./resume-watchdog.js";

const UNSTORED_END_MESSAGES: Record<UnstoredEnd, string> = {
  conversation_deleted: "The conversation was deleted while this answer was followed.",
  answer_unavailable:
    "The answer cannot be followed to its end now: its generator stopped and the chat store could not store or read its end. Read the conversation, or resume later.",
};

export class ReplyCursor {
  private readonly deltas: string[] = [];
  /** The highest event id stored without a gap before it. */
  private contiguous = 0;
  private gap = false;
  private sent: number;
  ended = false;

  constructor(after: number) {
    this.sent = after;
  }

  /** The events to send for one more record of the answer. */
  next(record: LogRecord): StreamEvent[] {
    if (this.ended || record.kind === "user") return [];
    if (record.kind === "answer") {
      this.ended = true;
      return answerEvents(record, this.sent);
    }
    const out: StreamEvent[] = [];
    for (const event of record.kind === "events" ? record.events : [record.event]) {
      if (event.seq <= this.contiguous) continue;
      if (event.seq !== this.contiguous + 1) this.gap = true;
      if (this.gap) continue;
      this.contiguous = event.seq;
      if (event.type === "delta") this.deltas.push(event.data.text);
      if (event.seq > this.sent) {
        out.push(event);
        this.sent = event.seq;
      }
      if (event.type !== "delta") {
        this.ended = true;
        break;
      }
    }
    return out;
  }

  /**
   * An end this reader sends without storing it. It carries the id of the
   * last event sent, so a later resume from it (Last-Event-ID) misses
   * nothing the answer may still get.
   */
  unstoredEnd(code: UnstoredEnd): TerminalEvent {
    this.ended = true;
    return { seq: this.sent, type: "error", data: { code, message: UNSTORED_END_MESSAGES[code] } };
  }

  /** The record that ends an answer whose generator died, with the text stored up to now. */
  interrupted(replyId: string): AnswerRecord {
    return {
      kind: "answer",
      replyId,
      deltas: this.deltas.slice(0, this.contiguous),
      end: {
        seq: this.contiguous + 1,
        type: "error",
        data: {
          code: "generation_interrupted",
          message: "The answer was interrupted before it finished; send the message again.",
        },
      },
    };
  }
}
