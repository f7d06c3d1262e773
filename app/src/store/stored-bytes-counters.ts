// Storage quotas in the KV bucket `stored-bytes`, one entry per user, shared
// by every instance (shared-counters.ts). The count follows each write and
// delete; at most every RECOUNT_INTERVAL_MS what the store holds is
// recounted, so a count that drifted (a write that failed after its charge,
// a delete cut short, messages removed by CHAT_RETENTION, counts cleared by
// a restore) neither refuses a user for good nor lets them past their quota
// for long. A recount is a headers-only scan of the user's conversations:
// never before an answer's first token, only before a refusal or after a
// request's writes are stored.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  applyQuotaChanges,
  conversationRecordBytes,
  decodeStoredBytes,
  encodeStoredBytes,
  recountDue,
  type QuotaChange,
  type QuotaResult,
  type StoredBytes,
} from "../chat/storage-quota.js";
import type { ChatStore } from "./chat-store.js";
import type { ConversationRecord } from "./records.js";
import { applyOrUnavailable, counterKey, SharedCounters, type CounterPolicy } from "./shared-counters.js";

export const STORED_BYTES_BUCKET = "stored-bytes";

const quotaPolicy: CounterPolicy<StoredBytes, QuotaChange, QuotaResult> = {
  apply: (current, changes) => applyQuotaChanges(current, changes),
  encode: encodeStoredBytes,
  decode: decodeStoredBytes,
  // A delete on any instance gives bytes back.
  refusesFromMemory: false,
};

export class StorageQuota {
  private readonly counters: SharedCounters<StoredBytes, QuotaChange, QuotaResult>;
  /** Users whose due recount runs on this instance now: one at a time is enough. */
  private readonly recounting = new Set<string>();

  constructor(
    nc: NatsConnection,
    private readonly store: ChatStore,
    readonly limit: number,
    /**
     * As the store's: an entry not written for that long counts only what
     * has expired since. 0: kept.
     */
    options: { retentionMs: number; replicas: number },
    private readonly log: Logger,
  ) {
    this.counters = new SharedCounters(
      nc,
      { name: STORED_BYTES_BUCKET, ttlMs: options.retentionMs, replicas: options.replicas },
      quotaPolicy,
    );
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  open(): Promise<unknown> {
    return this.enabled ? this.counters.open() : Promise.resolve();
  }

  /**
   * Counts `bytes` about to be stored; refused when they would pass the
   * quota (after a recount, if one is due). Throws a StoreError when NATS
   * cannot count.
   */
  async charge(owner: string, bytes: number): Promise<QuotaResult> {
    if (!this.enabled) return { allowed: true, used: 0, recountedAt: 0 };
    const change: QuotaChange = { kind: "charge", bytes, limit: this.limit };
    const result = await this.change(owner, change);
    if (result.allowed || !recountDue(result, Date.now())) return result;
    const held = await this.measure(owner);
    this.log.info({ counted: result.used, held }, "recounted a user's stored bytes before refusing");
    await this.change(owner, { kind: "recount", bytes: held, at: Date.now() });
    return this.change(owner, change);
  }

  /**
   * After an allowed charge, once what it was for is stored and counted (a
   * conversation's record; a message and its answer): recounts what the
   * user's conversations hold if the last recount is due, so a count that
   * drifted down heals too. Best effort: never throws.
   */
  async recountIfDue(owner: string, charged: QuotaResult): Promise<void> {
    if (!this.enabled || !charged.allowed || !recountDue(charged, Date.now())) return;
    // One at a time per user on this instance is enough.
    if (this.recounting.has(owner)) return;
    this.recounting.add(owner);
    try {
      const held = await this.measure(owner);
      const { replaced } = await this.change(owner, { kind: "recount", bytes: held, at: Date.now() });
      if (replaced !== held)
        this.log.info({ counted: replaced, held }, "recounted a user's stored bytes, which had drifted");
    } catch (err) {
      this.log.warn({ err }, "could not recount a user's stored bytes; a later write tries again");
    } finally {
      this.recounting.delete(owner);
    }
  }

  /**
   * Counts bytes stored (an answer) or removed (negative: a delete, a write
   * that failed after its charge). Best effort: a count missed here is
   * corrected by the next recount.
   */
  async add(owner: string, bytes: number): Promise<void> {
    if (!this.enabled || bytes === 0) return;
    await this.change(owner, { kind: "add", bytes }).catch((err: unknown) =>
      this.log.warn({ err, bytes }, "could not count stored bytes; the next recount corrects it"),
    );
  }

  /** What a user's conversations hold now, as the quota counts it. */
  async measure(owner: string): Promise<number> {
    const records = await this.store.sizes.records(owner);
    const logs = await this.store.sizes.logs(records.map((r) => r.id));
    let total = 0;
    for (const r of records) total += conversationRecordBytes(r.subject, r.size) + (logs.get(r.id) ?? 0);
    return total;
  }

  /** What one conversation holds, as the quota counts it; 0 without a quota. */
  async conversationBytes(owner: string, record: ConversationRecord): Promise<number> {
    if (!this.enabled) return 0;
    const subject = this.store.sizes.recordSubject(owner, record.id);
    const logs = await this.store.sizes.logs([record.id]);
    return conversationRecordBytes(subject, JSON.stringify(record)) + (logs.get(record.id) ?? 0);
  }

  private change(owner: string, change: QuotaChange): Promise<QuotaResult> {
    return applyOrUnavailable(this.counters, counterKey("bytes", owner), change);
  }
}
