// Storage quotas in the KV bucket `stored-bytes`, one entry per user, shared
// by every instance (shared-counters.ts). The count follows each write and
// delete; when it would refuse, what the store holds is recounted first (at
// most every RECOUNT_INTERVAL_MS), so a count that drifted (a write that
// failed after its charge, a delete cut short, messages removed by
// CHAT_RETENTION) never refuses a user for good.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  applyQuotaChanges,
  conversationRecordBytes,
  decodeStoredBytes,
  encodeStoredBytes,
  shouldRecount,
  type QuotaChange,
  type QuotaResult,
  type StoredBytes,
} from "../chat/storage-quota.js";
import type { ChatStore } from "./chat-store.js";
import type { ConversationRecord } from "./records.js";
import { counterKey, CounterContention, SharedCounters, type CounterPolicy } from "./shared-counters.js";
import { classifyStoreError, StoreError } from "./store-errors.js";

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
    if (!shouldRecount(result, Date.now())) return result;
    const held = await this.measure(owner);
    this.log.info({ counted: result.used, held }, "recounted a user's stored bytes before refusing");
    await this.change(owner, { kind: "recount", bytes: held, at: Date.now() });
    return this.change(owner, change);
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
    const records = await this.store.conversationRecordSizes(owner);
    const logs = await this.store.logBytes(records.map((r) => r.id));
    let total = 0;
    for (const r of records) total += conversationRecordBytes(r.subject, r.size) + (logs.get(r.id) ?? 0);
    return total;
  }

  /** What one conversation holds, as the quota counts it. */
  async conversationBytes(owner: string, record: ConversationRecord): Promise<number> {
    const subject = this.store.conversationRecordSubject(owner, record.id);
    const logs = await this.store.logBytes([record.id]);
    return conversationRecordBytes(subject, JSON.stringify(record)) + (logs.get(record.id) ?? 0);
  }

  private async change(owner: string, change: QuotaChange): Promise<QuotaResult> {
    try {
      return await this.counters.apply(counterKey("bytes", owner), change);
    } catch (err) {
      if (err instanceof CounterContention) throw new StoreError("unavailable", err);
      throw classifyStoreError(err) ?? err;
    }
  }
}
