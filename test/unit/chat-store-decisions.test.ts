// The chat store's pure decisions: resuming from stored records, finding
// answers to compact, paging lists, stream settings and storage pressure.
import { describe, expect, it } from "vitest";
import { uncompactedAnswers } from "../../app/src/chat/compaction.js";
import { pageOfConversations } from "../../app/src/chat/conversation-list.js";
import { EventBatcher } from "../../app/src/chat/event-batcher.js";
import { ReplyCursor } from "../../app/src/chat/reply-cursor.js";
import type { AnswerRecord, LogRecord, StreamEvent } from "../../app/src/store/records.js";
import {
  chatBuckets,
  conversationStreamConfig,
  settingChanges,
  streamUpdate,
} from "../../app/src/store/storage-config.js";
import type { StreamConfig } from "@nats-io/jetstream";
import { fitInBytes } from "../../app/src/store/context-size.js";
import { StoreError } from "../../app/src/store/store-errors.js";
import { storagePressure } from "../../app/src/store/storage-pressure.js";

const delta = (seq: number, text: string): StreamEvent => ({ seq, type: "delta", data: { text } });
const batch = (...events: StreamEvent[]): LogRecord => ({ kind: "events", replyId: "r", events });
const legacy = (event: StreamEvent): LogRecord => ({ kind: "event", replyId: "r", event });
const done = (seq: number) =>
  ({
    seq,
    type: "done",
    data: { messageId: "r", usage: { inputTokens: 1, outputTokens: 1 }, stopReason: "end_turn" },
  }) as const;
const answer = (deltas: string[]): AnswerRecord => ({
  kind: "answer",
  replyId: "r",
  deltas,
  end: done(deltas.length + 1),
});
const ids = (events: StreamEvent[]) => events.map((e) => e.seq);

describe("ReplyCursor", () => {
  it("sends every event after Last-Event-ID once, from batches and then the answer's record", () => {
    const cursor = new ReplyCursor(1);
    expect(ids(cursor.next(batch(delta(1, "a"), delta(2, "b"))))).toEqual([2]);
    expect(ids(cursor.next(batch(delta(2, "b"), delta(3, "c"))))).toEqual([3]);
    expect(ids(cursor.next(answer(["a", "b", "c", "d"])))).toEqual([4, 5]);
    expect(cursor.ended).toBe(true);
  });

  it("sends nothing across a gap, then the rest from the answer's record", () => {
    const cursor = new ReplyCursor(0);
    expect(ids(cursor.next(batch(delta(1, "a"))))).toEqual([1]);
    expect(ids(cursor.next(batch(delta(3, "c"))))).toEqual([]);
    expect(cursor.next(answer(["a", "b", "c"]))).toEqual([delta(2, "b"), delta(3, "c"), done(4)]);
  });

  it("reads single events of older versions and ends at their terminal event", () => {
    const cursor = new ReplyCursor(0);
    cursor.next(legacy(delta(1, "a")));
    expect(ids(cursor.next(legacy(done(2))))).toEqual([2]);
    expect(cursor.ended).toBe(true);
  });

  it("ends a dead answer with what was stored up to the first gap", () => {
    const cursor = new ReplyCursor(0);
    cursor.next(batch(delta(1, "a"), delta(2, "b")));
    cursor.next(batch(delta(4, "d")));
    expect(cursor.interrupted("r")).toMatchObject({ deltas: ["a", "b"], end: { seq: 3, type: "error" } });
  });
});

describe("uncompactedAnswers", () => {
  const user = (replyId: string): LogRecord => ({
    kind: "user",
    id: `m-${replyId}`,
    replyId,
    content: "q",
    model: "m",
    provider: "p",
    createdAt: "",
  });
  const ev = (replyId: string, event: StreamEvent): LogRecord => ({ kind: "event", replyId, event });

  it("finds answers ended event by event, those in progress, and skips compacted ones", () => {
    const found = uncompactedAnswers([
      user("old"),
      ev("old", delta(1, "x")),
      ev("old", done(2)),
      user("live"),
      { kind: "events", replyId: "live", events: [delta(1, "y")] },
      user("new"),
      { kind: "answer", replyId: "new", deltas: [], end: done(1) },
    ]);
    expect(found.map((a) => [a.replyId, a.ended?.deltas])).toEqual([
      ["old", ["x"]],
      ["live", undefined],
    ]);
    expect(found[1]!.ifDead).toMatchObject({
      deltas: ["y"],
      end: { type: "error", data: { code: "generation_interrupted" } },
    });
  });

  it("keeps an old answer with a missing event whole: its end, an empty delta for the gap, marked incomplete", () => {
    const [found] = uncompactedAnswers([
      user("old"),
      ev("old", delta(1, "Hello ")),
      ev("old", delta(3, "world")),
      ev("old", done(4)),
    ]);
    expect(found!.ended).toEqual({
      kind: "answer",
      replyId: "old",
      deltas: ["Hello ", "", "world"],
      end: done(4),
      incomplete: true,
    });
  });
});

describe("pageOfConversations", () => {
  const conv = (id: string, at: string) => ({ id, title: null, createdAt: "2026-01-01T00:00:00Z", updatedAt: at });
  const all = [conv("a", "2026-01-03"), conv("b", "2026-01-05"), conv("c", "2026-01-04"), conv("d", "2026-01-04")];

  it("pages by last activity, newest first, with a cursor that continues exactly", () => {
    const first = pageOfConversations(all, { limit: 2 });
    if (first instanceof Error) throw first;
    expect(first.conversations.map((c) => c.id)).toEqual(["b", "d"]);
    const second = pageOfConversations(all, { limit: 2, cursor: first.nextCursor! });
    if (second instanceof Error) throw second;
    expect(second.conversations.map((c) => c.id)).toEqual(["c", "a"]);
    expect(second.nextCursor).toBeNull();
  });

  it("refuses a cursor it did not make and a limit out of range, saying what to do", () => {
    expect(pageOfConversations(all, { cursor: "bm90IG91cnM" })).toBeInstanceOf(Error);
    expect(String(pageOfConversations(all, { limit: 500 }))).toMatch(/1 to 200/);
  });
});

describe("storage settings", () => {
  const options = { replicas: 1, leaseTtlMs: 15_000, retentionMs: 0, maxBytes: 1024 ** 3 };

  it("bounds the log and refuses writes when full instead of dropping old conversations", () => {
    expect(conversationStreamConfig(options)).toMatchObject({ max_bytes: 1024 ** 3, max_age: 0, discard: "new" });
    expect(conversationStreamConfig({ ...options, retentionMs: 86_400_000 }).max_age).toBe(86_400_000 * 1e6);
  });

  it("gives the buckets the same retention and a share of the size", () => {
    const buckets = chatBuckets({ ...options, retentionMs: 60_000 });
    for (const bucket of buckets.filter((b) => b.name !== "active-answers")) {
      expect(bucket.settings.max_age).toBe(60_000 * 1e6);
      expect(bucket.settings.max_bytes).toBeLessThan(options.maxBytes);
    }
    // Answers in progress expire with the lease, not the retention.
    expect(buckets.find((b) => b.name === "active-answers")?.settings.max_age).toBe(15_000 * 1e6);
  });

  it("shrinks the duplicate window with a shorter max age, which JetStream requires", () => {
    const current = { duplicate_window: 15e9, max_age: 15e9, num_replicas: 1, max_bytes: 0 } as StreamConfig;
    expect(streamUpdate(current, { num_replicas: 1, max_age: 10e9, max_bytes: 0 }).duplicate_window).toBe(10e9);
    expect(streamUpdate(current, { num_replicas: 1, max_age: 60e9, max_bytes: 0 }).duplicate_window).toBe(15e9);
  });

  it("names what changed, treating the server's -1 as no limit", () => {
    expect(
      settingChanges({ num_replicas: 1, max_age: 0, max_bytes: -1 }, { num_replicas: 1, max_age: 0, max_bytes: 0 }),
    ).toEqual([]);
    expect(
      settingChanges({ num_replicas: 1, max_age: 5, max_bytes: 0 }, { num_replicas: 3, max_age: 5, max_bytes: 0 }),
    ).toEqual([{ setting: "num_replicas", from: 1, to: 3 }]);
  });
});

describe("storagePressure", () => {
  it("is degraded from 90 % of the limit and full at the limit", () => {
    expect(storagePressure({ bytes: 50, messages: 1, maxBytes: 100 }).state).toBe("ok");
    expect(storagePressure({ bytes: 90, messages: 1, maxBytes: 100 }).state).toBe("degraded");
    expect(storagePressure({ bytes: 100, messages: 1, maxBytes: 100 }).state).toBe("full");
    expect(storagePressure({ bytes: 100, messages: 1, maxBytes: 0 }).state).toBe("ok");
  });
});

describe("EventBatcher", () => {
  it("stores the first event at once and the ones that arrive meanwhile together", async () => {
    const stored: number[][] = [];
    let release!: () => void;
    const batcher = new EventBatcher(
      (events) => {
        stored.push(ids(events));
        return stored.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
      () => undefined,
    );
    batcher.push(delta(1, "a"));
    batcher.push(delta(2, "b"));
    batcher.push(delta(3, "c"));
    release();
    await batcher.drain();
    expect(stored).toEqual([[1], [2, 3]]);
  });

  it("gives up on a full store at once and reports the events lost", async () => {
    const lost: number[] = [];
    const batcher = new EventBatcher(
      () => Promise.reject(new StoreError("full", new Error("maximum bytes exceeded"))),
      (_err, events) => lost.push(...ids(events)),
    );
    batcher.push(delta(1, "a"));
    await batcher.drain();
    expect(lost).toEqual([1]);
    expect(batcher.lost).toBe(1);
  });
});

describe("the store's size settings", () => {
  it("fit the production NATS server's max_file_store at the largest CHAT_MAX_BYTES allowed", async () => {
    const { loadConfig } = await import("../../app/src/config/env.js");
    const { totalReservedBytes } = await import("../../app/src/store/storage-config.js");
    const env = {
      NATS_URL: "nats://n:4222",
      NATS_TOKEN: "x".repeat(16),
      JWT_SECRET: "x".repeat(32),
      LLM_PROVIDER: "mock",
    };
    const largest = loadConfig({ ...env, CHAT_MAX_BYTES: "12GB" });
    const reserved = totalReservedBytes({ replicas: 1, leaseTtlMs: 1, retentionMs: 0, maxBytes: largest.chatMaxBytes });
    const conf = (await import("node:fs")).readFileSync("templates/stack/nats-server.conf", "utf8");
    const maxFileStoreGb = Number(/max_file_store:\s*(\d+)GB/.exec(conf)?.[1]);
    expect(reserved).toBeLessThan(maxFileStoreGb * 1024 ** 3);
    expect(() => loadConfig({ ...env, CHAT_MAX_BYTES: "13GB" })).toThrow(/CHAT_MAX_BYTES.*max_file_store/);
    expect(loadConfig({ ...env, CHAT_MAX_BYTES: "512MB" }).chatMaxBytes).toBe(512 * 1024 ** 2);
  });
});

describe("fitInBytes", () => {
  it("drops the oldest turns until the stored context fits, starting with the user, keeping the newest", () => {
    const turns = [
      { role: "user" as const, content: "é".repeat(400) },
      { role: "assistant" as const, content: "b".repeat(400) },
      { role: "user" as const, content: "c".repeat(400) },
    ];
    // 400 "é" are 800 bytes: the first turn alone is over 500.
    expect(fitInBytes(turns, 2000)).toHaveLength(3);
    expect(fitInBytes(turns, 1000).map((t) => t.content[0])).toEqual(["c"]);
    expect(fitInBytes(turns, 10).map((t) => t.content[0])).toEqual(["c"]);
  });
});
