// Whether a resume stream will still end by itself. It follows records that
// the answer's generator writes, maybe on another instance; once the answer
// has been quiet for half a lease, each check asks: is its conversation
// still there, is its generator alive, and if not, can its end be stored
// (the record then reaches the stream like any other)? When none of that
// can happen (the conversation was deleted, the end cannot be stored or
// read: a full store, a store not answering), the stream is ended here,
// within a lease, instead of waiting for ever with its consumer.
export interface AnswerChecks {
  conversationExists(): Promise<boolean>;
  generatorAlive(): Promise<boolean>;
  /** Stores the answer's end as interrupted, unless another end is stored; throws when it cannot. */
  storeInterruptedEnd(): Promise<void>;
  /** Told of each failed check (the store full, or not answering). */
  failed(err: unknown): void;
}

/** Why a stream was ended here, with no stored end: the `error` event's code. */
export type UnstoredEnd = "conversation_deleted" | "answer_unavailable";

/** Failed checks in a row after which the store is taken as unable to end the answer. */
const FAILURES_TO_GIVE_UP = 2;

export class ResumeWatchdog {
  private endStored = false;
  private failures = 0;

  constructor(
    private readonly checks: AnswerChecks,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** How to end the stream now, or undefined to keep following. Never throws. */
  async check(lastRecordAt: number): Promise<UnstoredEnd | undefined> {
    if (this.now() - lastRecordAt < this.leaseMs / 2) {
      this.failures = 0;
      return undefined;
    }
    try {
      if (!(await this.checks.conversationExists())) return "conversation_deleted";
      if (await this.checks.generatorAlive()) {
        this.failures = 0;
        this.endStored = false;
        return undefined;
      }
      // Its end was stored on an earlier check and never reached the stream.
      if (this.endStored) return "answer_unavailable";
      await this.checks.storeInterruptedEnd();
      this.endStored = true;
      this.failures = 0;
      return undefined;
    } catch (err) {
      this.checks.failed(err);
      this.failures++;
      return this.failures >= FAILURES_TO_GIVE_UP ? "answer_unavailable" : undefined;
    }
  }
}
