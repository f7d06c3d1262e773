import { describe, expect, it } from "vitest";
import { foldLog, modelContext, type ChatMessage } from "../../app/src/chat/history.js";
import type { LogRecord, StreamEvent } from "../../app/src/store/records.js";

const user = (id: string, replyId: string, content: string): LogRecord => ({
  kind: "user",
  id,
  replyId,
  content,
  model: "m",
  provider: "mock",
  createdAt: "2026-01-01T00:00:00.000Z",
});
const event = (replyId: string, e: StreamEvent): LogRecord => ({ kind: "event", replyId, event: e });
const delta = (seq: number, text: string): StreamEvent => ({ seq, type: "delta", data: { text } });

describe("foldLog", () => {
  it("rebuilds user messages and answers from their events", () => {
    const messages = foldLog([
      user("u1", "a1", "hi"),
      event("a1", delta(1, "Hel")),
      event("a1", delta(2, "lo")),
      event("a1", {
        seq: 3,
        type: "done",
        data: { messageId: "a1", usage: { inputTokens: 3, outputTokens: 2 }, stopReason: "end_turn" },
      }),
    ]);
    expect(messages).toEqual([
      { id: "u1", role: "user", content: "hi", createdAt: "2026-01-01T00:00:00.000Z" },
      {
        id: "a1",
        role: "assistant",
        content: "Hello",
        createdAt: "2026-01-01T00:00:00.000Z",
        status: "complete",
        model: "m",
        usage: { inputTokens: 3, outputTokens: 2 },
        stopReason: "end_turn",
      },
    ]);
  });

  it("ignores replayed events and anything after the end", () => {
    const [, answer] = foldLog([
      user("u1", "a1", "hi"),
      event("a1", delta(1, "A")),
      event("a1", delta(1, "A")),
      event("a1", { seq: 2, type: "error", data: { code: "upstream_error", message: "x" } }),
      event("a1", { seq: 3, type: "error", data: { code: "generation_interrupted", message: "y" } }),
      event("a1", delta(4, "late")),
    ]);
    expect(answer).toMatchObject({ content: "A", status: "error", error: { code: "upstream_error" } });
  });

  it("shows an answer without an end as streaming", () => {
    expect(foldLog([user("u1", "a1", "hi"), event("a1", delta(1, "par"))])[1]).toMatchObject({
      status: "streaming",
      content: "par",
    });
  });
});

describe("modelContext", () => {
  const msg = (role: "user" | "assistant", content: string): ChatMessage => ({
    id: content,
    role,
    content,
    createdAt: "",
  });

  it("drops empty answers and merges neighbours of the same role", () => {
    expect(modelContext([msg("user", "a"), msg("assistant", ""), msg("user", "b")], 50)).toEqual([
      { role: "user", content: "a\n\nb" },
    ]);
  });

  it("keeps the latest turns and starts with the user", () => {
    const turns = modelContext(
      [msg("user", "1"), msg("assistant", "2"), msg("user", "3"), msg("assistant", "4"), msg("user", "5")],
      4,
    );
    expect(turns.map((t) => t.content)).toEqual(["3", "4", "5"]);
    expect(turns[0]!.role).toBe("user");
  });
});
