// Rebuilds a conversation's messages from its log. A pure function: the log
// is the only state. Ended answers are one compacted record each; answers in
// progress (and answers stored by versions before compaction) are events.
import type { LogRecord, StreamEvent, Usage } from "../store/records.js";

export interface ChatMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  createdAt: string;
  /** For answers: still being generated, finished, or ended by an error. */
  status?: "streaming" | "complete" | "error";
  model?: string;
  usage?: Usage;
  stopReason?: string;
  error?: { code: string; message: string };
  /** Set when some of the answer's events could not be stored: its text has gaps. */
  incomplete?: true;
}

interface AnswerState {
  message: ChatMessage;
  lastSeq: number;
}

export function foldLog(log: readonly LogRecord[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const answers = new Map<string, AnswerState>();
  for (const record of log) {
    if (record.kind === "user") {
      messages.push({ id: record.id, role: "user", content: record.content, createdAt: record.createdAt });
      const answer: ChatMessage = {
        id: record.replyId,
        role: "assistant",
        content: "",
        createdAt: record.createdAt,
        status: "streaming",
        model: record.model,
      };
      messages.push(answer);
      answers.set(record.replyId, { message: answer, lastSeq: 0 });
      continue;
    }
    const answer = answers.get(record.replyId);
    if (!answer || answer.message.status !== "streaming") continue;
    if (record.kind === "answer") {
      // The whole answer, as its generator (or whoever ended it) stored it.
      answer.message.content = record.deltas.join("");
      if (record.incomplete) answer.message.incomplete = true;
      else delete answer.message.incomplete;
      answer.lastSeq = record.end.seq - 1;
      apply(answer, record.end);
    } else if (record.kind === "events") {
      for (const event of record.events) apply(answer, event);
    } else {
      apply(answer, record.event);
    }
  }
  return messages;
}

function apply(answer: AnswerState, event: StreamEvent): void {
  // A replayed duplicate or a late event after the end (a racing terminal
  // marker) must not change the answer.
  if (event.seq <= answer.lastSeq || answer.message.status !== "streaming") return;
  if (event.seq > answer.lastSeq + 1) answer.message.incomplete = true;
  answer.lastSeq = event.seq;
  if (event.type === "delta") {
    answer.message.content += event.data.text;
  } else if (event.type === "done") {
    answer.message.status = "complete";
    answer.message.usage = event.data.usage;
    answer.message.stopReason = event.data.stopReason;
  } else {
    answer.message.status = "error";
    answer.message.error = event.data;
  }
}
