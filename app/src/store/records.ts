// The shapes persisted in JetStream. A conversation's log holds its users'
// messages and, for each answer, the exact events its clients were sent, so
// an answer can be replayed (resume) and rebuilt (history) from one source.

export interface ConversationRecord {
  id: string;
  title: string | null;
  createdAt: string;
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

export type StreamEvent =
  | { seq: number; type: "delta"; data: { text: string } }
  | { seq: number; type: "done"; data: { messageId: string; usage: Usage; stopReason: string } }
  | { seq: number; type: "error"; data: { code: string; message: string } };

export interface ReplyEventRecord {
  kind: "event";
  replyId: string;
  event: StreamEvent;
}

export type LogRecord = UserMessageRecord | ReplyEventRecord;

export function isTerminal(event: StreamEvent): boolean {
  return event.type !== "delta";
}
