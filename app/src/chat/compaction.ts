// Answers in a log that are not one compacted record yet, and what that
// record should hold: answers stored event by event by versions before
// compaction (the migration, done as conversations are read), and answers
// whose generator died without ending them.
import type { AnswerRecord, LogRecord, TerminalEvent } from "../store/records.js";
import { ReplyCursor } from "./reply-cursor.js";

export interface Uncompacted {
  replyId: string;
  /** The record to store when the answer has ended. */
  ended?: AnswerRecord;
  /** The record to store if its generator turns out to be dead. */
  ifDead: AnswerRecord;
}

export function uncompactedAnswers(log: readonly LogRecord[]): Uncompacted[] {
  const cursors = new Map<string, { cursor: ReplyCursor; deltas: string[]; end?: TerminalEvent }>();
  const compacted = new Set<string>();
  for (const record of log) {
    if (record.kind === "user") {
      cursors.set(record.replyId, { cursor: new ReplyCursor(0), deltas: [] });
      continue;
    }
    if (record.kind === "answer") compacted.add(record.replyId);
    const state = cursors.get(record.replyId);
    if (!state) continue;
    for (const event of state.cursor.next(record)) {
      if (event.type === "delta") state.deltas.push(event.data.text);
      else state.end = event;
    }
  }
  return [...cursors]
    .filter(([replyId]) => !compacted.has(replyId))
    .map(([replyId, { cursor, deltas, end }]) => ({
      replyId,
      ...(end ? { ended: { kind: "answer" as const, replyId, deltas, end } } : {}),
      ifDead: cursor.interrupted(replyId),
    }));
}
