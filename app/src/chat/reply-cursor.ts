// What a resumed client is sent from an answer's stored records: every event
// after its Last-Event-ID, in order, never twice and never across a gap.
// Batches of events (and single events of older versions) are sent as they
// come; if one is missing, nothing more is sent until the compacted answer
// arrives, which holds every delta. Pure: the route feeds it records.
import { answerEvents, type AnswerRecord, type LogRecord, type StreamEvent } from "../store/records.js";

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
