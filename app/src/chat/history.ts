// Rebuilds a conversation's messages from its log, and picks what of it goes
// to the model as context. Pure functions: the log is the only state.
import type { LogRecord, Usage } from "../store/records.js";
import type { ChatTurn } from "../providers/types.js";

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
}

export function foldLog(log: readonly LogRecord[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const answers = new Map<string, { message: ChatMessage; lastSeq: number }>();
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
    // Events arrive in order; a replayed duplicate or a late event after the
    // end (a racing terminal marker) must not change the answer.
    if (!answer || record.event.seq <= answer.lastSeq || answer.message.status !== "streaming") continue;
    answer.lastSeq = record.event.seq;
    const { event } = record;
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
  return messages;
}

/**
 * The turns sent to the model: the latest `maxMessages`, without empty
 * answers, with same-role neighbours merged and starting with the user, as
 * both providers require.
 */
export function modelContext(messages: readonly ChatMessage[], maxMessages: number): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const m of messages) {
    if (m.content.trim() === "") continue;
    const last = turns.at(-1);
    if (last && last.role === m.role) last.content += `\n\n${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  const recent = turns.slice(-maxMessages);
  while (recent[0] && recent[0].role !== "user") recent.shift();
  return recent;
}
