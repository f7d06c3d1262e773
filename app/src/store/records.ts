// The shapes persisted in JetStream. A conversation's log holds its users'
// messages and, for each answer, one compacted record once it has ended.
// While an answer is generated its events are also stored in batches, so a
// resume on any instance can replay and follow them; the compacted record
// replaces them when the answer ends.

export interface ConversationRecord {
  id: string;
  title: string | null;
  createdAt: string;
  /** When its last message was sent; stores written before it have none. */
  updatedAt?: string;
}

export interface UserMessageRecord {
  kind: "user";
  id: string;
  /** The assistant answer this message started. */
  replyId: string;
  content: string;
  model: string;
  provider: string;
  createdAt: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export type DeltaEvent = { seq: number; type: "delta"; data: { text: string } };
export type TerminalEvent =
  | { seq: number; type: "done"; data: { messageId: string; usage: Usage; stopReason: string } }
  | { seq: number; type: "error"; data: { code: string; message: string } };
export type StreamEvent = DeltaEvent | TerminalEvent;

/** Events of an answer in progress, as many as were ready at once. */
export interface EventBatchRecord {
  kind: "events";
  replyId: string;
  events: StreamEvent[];
}

/**
 * An ended answer in one record: the text of each delta (delta `seq` n is
 * `deltas[n - 1]`, so a resume can start after any event id) and its end.
 */
export interface AnswerRecord {
  kind: "answer";
  replyId: string;
  deltas: string[];
  end: TerminalEvent;
  /** Some events were never stored (by an earlier release): their deltas are empty. */
  incomplete?: true;
}

/** One event per record: what versions before the compacted store wrote. */
export interface LegacyEventRecord {
  kind: "event";
  replyId: string;
  event: StreamEvent;
}

export type LogRecord = UserMessageRecord | EventBatchRecord | AnswerRecord | LegacyEventRecord;

export function isTerminal(event: StreamEvent): event is TerminalEvent {
  return event.type !== "delta";
}

/** The events a compacted answer replays after event id `after`. */
export function answerEvents(answer: AnswerRecord, after: number): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (let seq = after + 1; seq <= answer.deltas.length; seq++) {
    events.push({ seq, type: "delta", data: { text: answer.deltas[seq - 1]! } });
  }
  if (answer.end.seq > after) events.push(answer.end);
  return events;
}
