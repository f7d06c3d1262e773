// A user's storage quota: the bytes their conversations hold in the chat
// store. Every record is counted at its size (payload and subject) divided
// by its stream's share of CHAT_MAX_BYTES, so a quota is the same fraction
// of each: a conversation's record, in a bucket 1/32 the size of the log,
// counts 32 times. One user can then fill no part of the store for everyone.
// A user's message is checked before it is stored; an answer is counted when
// it is stored, unchecked (it is the reply to a message already accepted);
// deleting a conversation gives its bytes back, once. Every ten minutes at
// most, what the user's conversations hold is recounted: before a refusal,
// and after an allowed write (and its answer) is stored, so a count that
// drifted either way heals; an entry never recounted (a new user, counts
// cleared by a restore) is recounted after its first write.
import { readWholeNumbers } from "../store/counter-entry.js";
import { conversationsBucketShare } from "../store/storage-config.js";

export interface StoredBytes {
  bytes: number;
  /** Epoch milliseconds of the last recount from the store (0: never). */
  recountedAt: number;
}

export type QuotaChange =
  /** Before storing: refused when it would pass the limit. */
  | { kind: "charge"; bytes: number; limit: number }
  /** After storing an answer (positive), or deleting (negative). */
  | { kind: "add"; bytes: number }
  /** What the store was found to hold. */
  | { kind: "recount"; bytes: number; at: number };

export interface QuotaResult {
  allowed: boolean;
  /** Bytes counted after the change (before it, when refused). */
  used: number;
  recountedAt: number;
  /** For a recount: the count it replaced. */
  replaced?: number;
}

/** A recount reads every record's size of a user: at most this often per user. */
export const RECOUNT_INTERVAL_MS = 10 * 60_000;

/** The weight of a conversation's record: its bucket's share of the store. */
export const CONVERSATION_RECORD_WEIGHT = Math.round(1 / conversationsBucketShare);

/** A record of the log as the quota counts it. */
export function recordBytes(subject: string, payload: string | number): number {
  const size = typeof payload === "number" ? payload : Buffer.byteLength(payload);
  return size + Buffer.byteLength(subject);
}

/** A conversation's record as the quota counts it (see CONVERSATION_RECORD_WEIGHT). */
export function conversationRecordBytes(subject: string, payload: string | number): number {
  return CONVERSATION_RECORD_WEIGHT * recordBytes(subject, payload);
}

export function quotaStep(
  current: StoredBytes | null,
  change: QuotaChange,
): { result: QuotaResult; next: StoredBytes | null } {
  const used = current?.bytes ?? 0;
  const recountedAt = current?.recountedAt ?? 0;
  switch (change.kind) {
    case "charge": {
      if (used + change.bytes > change.limit) return { result: { allowed: false, used, recountedAt }, next: null };
      const next = { bytes: used + change.bytes, recountedAt };
      return { result: { allowed: true, used: next.bytes, recountedAt }, next };
    }
    case "add": {
      // Never below zero: a delete may give back bytes stored before quotas were counted.
      const next = { bytes: Math.max(0, used + change.bytes), recountedAt };
      return { result: { allowed: true, used: next.bytes, recountedAt }, next: next.bytes === used ? null : next };
    }
    case "recount": {
      const next = { bytes: Math.max(0, change.bytes), recountedAt: change.at };
      return { result: { allowed: true, used: next.bytes, recountedAt: change.at, replaced: used }, next };
    }
  }
}

export function applyQuotaChanges(
  current: StoredBytes | null,
  changes: readonly QuotaChange[],
): { results: QuotaResult[]; next: StoredBytes | null } {
  const results: QuotaResult[] = [];
  let next: StoredBytes | null = null;
  for (const change of changes) {
    const step = quotaStep(next ?? current, change);
    results.push(step.result);
    if (step.next) next = step.next;
  }
  return { results, next };
}

/**
 * Whether a charge should recount what the store holds: the count may have
 * drifted (a write that failed after its charge, a delete cut short,
 * messages removed by the retention) or never been taken.
 */
export function recountDue(result: QuotaResult, now: number): boolean {
  return now - result.recountedAt >= RECOUNT_INTERVAL_MS;
}

export function encodeStoredBytes(value: StoredBytes): string {
  return JSON.stringify({ bytes: value.bytes, recountedAt: value.recountedAt });
}

export function decodeStoredBytes(text: string): StoredBytes | null {
  return readWholeNumbers(text, { bytes: "count", recountedAt: "integer" });
}
