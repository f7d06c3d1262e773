// Stores an answer's events without a round trip per token: one batch is in
// flight at a time, and the events that arrive meanwhile leave together in
// the next. Idle, a token is stored at once; under load, batches grow with
// the store's latency instead of queueing one acknowledgement per token.
import { setTimeout as sleep } from "node:timers/promises";
import type { StreamEvent } from "../store/records.js";
import { StoreError } from "../store/store-errors.js";

/** Keeps a batch well under NATS's 1 MB message limit. */
const MAX_BATCH_EVENTS = 512;
const RETRY_DELAYS_MS = [50, 200, 800];

export class EventBatcher {
  private pending: StreamEvent[] = [];
  private flushing: Promise<void> | undefined;
  /** Events that could not be stored after retries; the answer's record fills the gap. */
  lost = 0;

  constructor(
    private readonly store: (events: StreamEvent[]) => Promise<void>,
    private readonly onLost: (err: unknown, events: StreamEvent[]) => void,
  ) {}

  push(event: StreamEvent): void {
    this.pending.push(event);
    this.flushing ??= this.flush();
  }

  /** Resolves once every event pushed so far has been stored or given up. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH_EVENTS);
        await this.storeWithRetries(batch);
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
