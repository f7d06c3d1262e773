import { describe, expect, it } from "vitest";
import { modelContext } from "../../app/src/chat/context.js";
import { foldLog, type ChatMessage } from "../../app/src/chat/history.js";
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

const limits = (maxMessages: number, maxTokens = 32_000) => ({ maxMessages, maxTokens });

describe("foldLog with compacted answers and batches", () => {
  const answer = (replyId: string, deltas: string[]): LogRecord => ({
    kind: "answer",
    replyId,
    deltas,
    end: {
      seq: deltas.length + 1,
      type: "done",
      data: { messageId: replyId, usage: { inputTokens: 1, outputTokens: 2 }, stopReason: "end_turn" },
    },
  });
  const batch = (replyId: string, ...events: StreamEvent[]): LogRecord => ({ kind: "events", replyId, events });

  it("reads an answer from its one record, whatever batches came before it", () => {
    const [, a] = foldLog([user("u1", "a1", "hi"), batch("a1", delta(1, "Hel")), answer("a1", ["Hel", "lo"])]);
    expect(a).toMatchObject({ content: "Hello", status: "complete", usage: { outputTokens: 2 } });
  });

  it("follows an answer in progress through its batches", () => {
    const [, a] = foldLog([
      user("u1", "a1", "hi"),
      batch("a1", delta(1, "a"), delta(2, "b")),
      batch("a1", delta(3, "c")),
    ]);
    expect(a).toMatchObject({ content: "abc", status: "streaming" });
    expect(a!.incomplete).toBeUndefined();
  });

  it("says so when a batch is missing, until the answer's record fills the gap", () => {
    const log = [user("u1", "a1", "hi"), batch("a1", delta(1, "a")), batch("a1", delta(3, "c"))];
    expect(foldLog(log)[1]).toMatchObject({ incomplete: true });
    const [, whole] = foldLog([...log, answer("a1", ["a", "b", "c"])]);
    expect(whole).toMatchObject({ content: "abc", status: "complete" });
    expect(whole!.incomplete).toBeUndefined();
  });

  it("keeps the first end: a later record cannot change an ended answer", () => {
    const interrupted: LogRecord = {
      kind: "answer",
      replyId: "a1",
      deltas: ["a"],
      end: { seq: 2, type: "error", data: { code: "generation_interrupted", message: "m" } },
    };
    const [, a] = foldLog([user("u1", "a1", "hi"), interrupted, answer("a1", ["a", "b"])]);
    expect(a).toMatchObject({ content: "a", status: "error" });
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
    expect(modelContext([msg("user", "a"), msg("assistant", ""), msg("user", "b")], limits(50))).toEqual([
      { role: "user", content: "a\n\nb" },
    ]);
  });

  it("keeps the latest turns and starts with the user", () => {
    const turns = modelContext(
      [msg("user", "1"), msg("assistant", "2"), msg("user", "3"), msg("assistant", "4"), msg("user", "5")],
      limits(4),
    );
    expect(turns.map((t) => t.content)).toEqual(["3", "4", "5"]);
    expect(turns[0]!.role).toBe("user");
  });
});

describe("modelContext's token budget", () => {
  const turn = (role: "user" | "assistant", chars: number, mark: string) => ({
    role,
    content: mark + "x".repeat(chars - 1),
  });

  it("keeps the newest turns that fit in the budget (4 characters a token)", () => {
    const turns = modelContext(
      [
        turn("user", 4000, "a"),
        turn("assistant", 4000, "b"),
        turn("user", 400, "c"),
        turn("assistant", 400, "d"),
        turn("user", 400, "e"),
      ],
      limits(50, 1000),
    );
    expect(turns.map((t) => t.content[0])).toEqual(["c", "d", "e"]);
  });

  it("never exceeds the budget, not even for a new message alone over it (the route refuses that one)", () => {
    const turns = modelContext(
      [turn("user", 400, "a"), turn("assistant", 400, "b"), turn("user", 8000, "c")],
      limits(50, 1000),
    );
    expect(turns).toEqual([]);
  });

  it("counts a merge as sent: messages after answers without text stay within the budget", () => {
    // Three user messages of 1,600 characters, their answers empty: merged,
    // the last two (3,202 characters, 801 tokens) fit in 1,000, all three do not.
    const messages = ["a", "b", "c"].flatMap((mark) => [
      turn("user", 1600, mark),
      { role: "assistant" as const, content: "" },
    ]);
    const turns = modelContext(messages, limits(50, 1000));
    expect(turns).toHaveLength(1);
    expect(turns[0]!.content.split("\n\n").map((part) => part[0])).toEqual(["b", "c"]);
  });
});
