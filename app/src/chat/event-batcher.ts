// Stores an answer's events without a round trip per token: one batch is in
// flight at a time, and the events that arrive meanwhile leave together in
// the next, at most every BATCH_INTERVAL_MS. The first token is stored at
// once; after it, a resume on another instance sees events at most that much
// later than the client generating them (the client's own stream is not
// delayed: it gets each event as it comes).
import { setTimeout as sleep } from "node:timers/promises";
import type { StreamEvent } from "../store/records.js";
import { StoreError } from "../store/store-errors.js";

/** Keeps a batch well under NATS's 1 MB message limit. */
const MAX_BATCH_EVENTS = 512;
/** Between the starts of two batches: a few per second per answer instead of one per token. */
export const BATCH_INTERVAL_MS = 25;
const RETRY_DELAYS_MS = [50, 200, 800];

export class EventBatcher {
  private pending: StreamEvent[] = [];
  private flushing: Promise<void> | undefined;
  private draining = false;
  private wake: (() => void) | undefined;
  /** Events that could not be stored after retries; the answer's record fills the gap. */
  lost = 0;

  constructor(
    private readonly store: (events: StreamEvent[]) => Promise<void>,
    private readonly onLost: (err: unknown, events: StreamEvent[]) => void,
    private readonly intervalMs = BATCH_INTERVAL_MS,
  ) {}

  push(event: StreamEvent): void {
    this.pending.push(event);
    this.flushing ??= this.flush();
  }

  /** Resolves once every event pushed so far has been stored or given up; no more pauses. */
  async drain(): Promise<void> {
    this.draining = true;
    this.wake?.();
    while (this.flushing) await this.flushing;
  }

  /** Waits out the interval, unless drain() wants everything stored now. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const started = Date.now();
        const batch = this.pending.splice(0, MAX_BATCH_EVENTS);
        await this.storeWithRetries(batch);
        const wait = started + this.intervalMs - Date.now();
        if (wait > 0 && this.pending.length < MAX_BATCH_EVENTS && !this.draining) await this.pause(wait);
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async storeWithRetries(batch: StreamEvent[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store(batch);
        return;
      } catch (err) {
        // A full store will not have room in a second; an outage might.
        const retry = RETRY_DELAYS_MS[attempt];
        if (retry === undefined || (err instanceof StoreError && err.reason === "full")) {
          this.lost += batch.length;
          this.onLost(err, batch);
          return;
        }
        await sleep(retry);
      }
    }
  }
}
