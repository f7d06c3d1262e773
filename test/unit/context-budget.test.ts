// The context budget as properties over generated conversations: whatever
// the turns (empty answers, runs of user messages, turns larger than the
// budget), what is sent stays within CONTEXT_MAX_TOKENS and
// HISTORY_MAX_MESSAGES, is shaped as the providers require, keeps the new
// message whenever it fits, and is the longest run of latest messages that
// fits (checked against a plain reference).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contextTokens, estimateTokens, modelContext } from "../../app/src/chat/context.js";
import type { ChatTurn } from "../../app/src/providers/types.js";

const role = fc.constantFrom<ChatTurn["role"]>("user", "assistant");
// Mostly short texts, some empty or blank (answers that stored no text),
// some far over a small budget.
const content = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 400 }) },
  { weight: 2, arbitrary: fc.constantFrom("", "  ", "\n") },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => "x".repeat(n)) },
);
const turn = fc.record({ role, content });
const messages = fc.array(turn, { maxLength: 40 });
const limits = fc.record({
  maxMessages: fc.integer({ min: 1, max: 60 }),
  maxTokens: fc.integer({ min: 1, max: 4000 }),
});

/** The rule said plainly: try every run of latest messages, longest first. */
function reference(all: ChatTurn[], limit: { maxMessages: number; maxTokens: number }): ChatTurn[] {
  const kept = all.filter((m) => m.content.trim() !== "");
  for (let start = Math.max(0, kept.length - limit.maxMessages); start <= kept.length; start++) {
    const merged: ChatTurn[] = [];
    for (const m of kept.slice(start)) {
      const last = merged.at(-1);
      if (last?.role === m.role) last.content += `\n\n${m.content}`;
      else merged.push({ ...m });
    }
    if (contextTokens(merged) <= limit.maxTokens) {
      while (merged[0] && merged[0].role !== "user") merged.shift();
      return merged;
    }
  }
  return [];
}

const RUNS = { numRuns: 2000 };

describe("the context budget", () => {
  it("never sends more than CONTEXT_MAX_TOKENS nor HISTORY_MAX_MESSAGES turns", () => {
    fc.assert(
      fc.property(messages, limits, (all, limit) => {
        const sent = modelContext(all, limit);
        expect(contextTokens(sent)).toBeLessThanOrEqual(limit.maxTokens);
        expect(sent.length).toBeLessThanOrEqual(limit.maxMessages);
      }),
      RUNS,
    );
  });

  it("starts with the user, alternates roles and sends no empty turn", () => {
    fc.assert(
      fc.property(messages, limits, (all, limit) => {
        const sent = modelContext(all, limit);
        if (sent.length > 0) expect(sent[0]!.role).toBe("user");
        for (let i = 1; i < sent.length; i++) expect(sent[i]!.role).not.toBe(sent[i - 1]!.role);
        for (const t of sent) expect(t.content.trim()).not.toBe("");
      }),
      RUNS,
    );
  });

  it("ends with the new message whenever it fits alone, however the history looks", () => {
    fc.assert(
      fc.property(messages, fc.string({ minLength: 1, maxLength: 4000 }), limits, (history, text, limit) => {
        fc.pre(text.trim() !== "" && estimateTokens(text) <= limit.maxTokens);
        const sent = modelContext([...history, { role: "user", content: text }], limit);
        expect(sent.at(-1)?.role).toBe("user");
        expect(sent.at(-1)!.content.endsWith(text)).toBe(true);
      }),
      RUNS,
    );
  });

  it("is the longest run of latest messages that fits", () => {
    fc.assert(
      fc.property(messages, limits, (all, limit) => {
        expect(modelContext(all, limit)).toEqual(reference(all, limit));
      }),
      RUNS,
    );
  });

  it("holds for the reported sequence: 20 messages of 32,000 characters after answers without text", () => {
    const limit = { maxMessages: 50, maxTokens: 32_000 };
    let stored: ChatTurn[] = [];
    for (let i = 0; i < 20; i++) {
      const sent = modelContext([...stored, { role: "user", content: `${i}`.padEnd(32_000, "x") }], limit);
      expect(contextTokens(sent)).toBeLessThanOrEqual(32_000);
      expect(sent.at(-1)!.content.endsWith(`${i}`.padEnd(32_000, "x"))).toBe(true);
      // What the generator keeps after an answer that stored no text.
      stored = modelContext([...sent, { role: "assistant", content: "" }], limit);
    }
  });
});
