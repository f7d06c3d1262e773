import { describe, expect, it } from "vitest";
import {
  applyQuotaChanges,
  CONVERSATION_RECORD_WEIGHT,
  conversationRecordBytes,
  decodeStoredBytes,
  encodeStoredBytes,
  quotaStep,
  RECOUNT_INTERVAL_MS,
  recordBytes,
  recountDue,
} from "../../app/src/chat/storage-quota.js";
import { conversationsBucketShare } from "../../app/src/store/storage-config.js";

describe("what a record counts", () => {
  it("is its payload's bytes (UTF-8) and its subject's", () => {
    expect(recordBytes("conv.a.msg.b", "héllo")).toBe(12 + 6);
    expect(recordBytes("conv.a.msg.b", 100)).toBe(112);
  });

  it("weighs a conversation's record by its bucket's share of the store, so a quota is the same share of each", () => {
    expect(CONVERSATION_RECORD_WEIGHT).toBe(32);
    expect(CONVERSATION_RECORD_WEIGHT * conversationsBucketShare).toBe(1);
    expect(conversationRecordBytes("$KV.conversations.k", "{}")).toBe(32 * (19 + 2));
  });
});

describe("quotaStep", () => {
  const limit = 1000;

  it("charges what fits, up to the limit exactly", () => {
    expect(quotaStep(null, { kind: "charge", bytes: 600, limit })).toEqual({
      result: { allowed: true, used: 600, recountedAt: 0 },
      next: { bytes: 600, recountedAt: 0 },
    });
    expect(quotaStep({ bytes: 600, recountedAt: 5 }, { kind: "charge", bytes: 400, limit }).result.allowed).toBe(true);
  });

  it("refuses what would pass the limit, writing nothing and reporting what is used", () => {
    expect(quotaStep({ bytes: 900, recountedAt: 5 }, { kind: "charge", bytes: 101, limit })).toEqual({
      result: { allowed: false, used: 900, recountedAt: 5 },
      next: null,
    });
  });

  it("adds answers unchecked, past the limit, and takes deletes off, never below zero", () => {
    expect(quotaStep({ bytes: 900, recountedAt: 0 }, { kind: "add", bytes: 500 }).next).toEqual({
      bytes: 1400,
      recountedAt: 0,
    });
    expect(quotaStep({ bytes: 300, recountedAt: 0 }, { kind: "add", bytes: -500 }).next).toEqual({
      bytes: 0,
      recountedAt: 0,
    });
    expect(quotaStep({ bytes: 0, recountedAt: 0 }, { kind: "add", bytes: -500 }).next).toBeNull();
  });

  it("replaces the count by a recount, and remembers when and what it replaced", () => {
    expect(quotaStep({ bytes: 9999, recountedAt: 0 }, { kind: "recount", bytes: 120, at: 77 })).toEqual({
      result: { allowed: true, used: 120, recountedAt: 77, replaced: 9999 },
      next: { bytes: 120, recountedAt: 77 },
    });
  });

  it("applies changes written together in order", () => {
    const { results, next } = applyQuotaChanges({ bytes: 800, recountedAt: 0 }, [
      { kind: "charge", bytes: 300, limit },
      { kind: "add", bytes: -500 },
      { kind: "charge", bytes: 300, limit },
    ]);
    expect(results.map((r) => r.allowed)).toEqual([false, true, true]);
    expect(next).toEqual({ bytes: 600, recountedAt: 0 });
  });
});

describe("recountDue", () => {
  const now = 1_700_000_000_000;
  it("recounts at most once an interval, whether the charge was refused or allowed", () => {
    for (const allowed of [false, true]) {
      expect(recountDue({ allowed, used: 1, recountedAt: now - RECOUNT_INTERVAL_MS + 1 }, now), `${allowed}`).toBe(
        false,
      );
      expect(recountDue({ allowed, used: 1, recountedAt: now - RECOUNT_INTERVAL_MS }, now), `${allowed}`).toBe(true);
    }
  });

  it("recounts a count never taken (a new user, counts cleared by a restore) at once", () => {
    expect(recountDue({ allowed: true, used: 1, recountedAt: 0 }, now)).toBe(true);
  });
});

describe("the stored form", () => {
  it("round-trips, and reads anything else as no count", () => {
    expect(decodeStoredBytes(encodeStoredBytes({ bytes: 5, recountedAt: 9 }))).toEqual({ bytes: 5, recountedAt: 9 });
    for (const text of ["", "1", '{"bytes":-1,"recountedAt":0}', '{"bytes":1}'])
      expect(decodeStoredBytes(text), text).toBeNull();
  });
});
