// Answers in a log that are not one compacted record yet, and what that
// record should hold: answers stored event by event by versions before
// compaction (the migration, done as conversations are read), and answers
// whose generator died without ending them. Events are read as the earlier
// release read them: in order, each id once, nothing after the first end; a
// missing event leaves an empty delta and marks the answer incomplete,
// instead of cutting the answer short.
import type { AnswerRecord, LogRecord, StreamEvent, TerminalEvent } from "../store/records.js";

export interface Uncompacted {
  replyId: string;
  /** The record to store when the answer has ended. */
  ended?: AnswerRecord;
  /** The record to store if its generator turns out to be dead. */
  ifDead: AnswerRecord;
}

interface Collected {
  /** Delta texts by id - 1; holes where an event is missing. */
  deltas: Array<string | undefined>;
  end?: TerminalEvent;
}

export function uncompactedAnswers(log: readonly LogRecord[]): Uncompacted[] {
  const answers = new Map<string, Collected>();
  const compacted = new Set<string>();
  const take = (state: Collected, event: StreamEvent) => {
    if (state.end) return;
    if (event.type === "delta") state.deltas[event.seq - 1] ??= event.data.text;
    else state.end = event;
  };
  for (const record of log) {
    if (record.kind === "user") {
      answers.set(record.replyId, { deltas: [] });
      continue;
    }
    if (record.kind === "answer") {
      compacted.add(record.replyId);
      continue;
    }
    const state = answers.get(record.replyId);
    if (!state) continue;
    for (const event of record.kind === "events" ? record.events : [record.event]) take(state, event);
  }
  return [...answers]
    .filter(([replyId]) => !compacted.has(replyId))
    .map(([replyId, { deltas, end }]) => {
      const length = end ? end.seq - 1 : deltas.length;
      const texts = Array.from({ length }, (_, i) => deltas[i] ?? "");
      const incomplete = texts.some((_, i) => deltas[i] === undefined) ? { incomplete: true as const } : {};
      const record = (final: TerminalEvent): AnswerRecord => ({
        kind: "answer",
        replyId,
        deltas: texts,
        end: final,
        ...incomplete,
      });
      return {
        replyId,
        ...(end ? { ended: record(end) } : {}),
        ifDead: record({
          seq: length + 1,
          type: "error",
          data: {
            code: "generation_interrupted",
            message: "The answer was interrupted before it finished; send the message again.",
          },
        }),
      };
    });
}
