// Answers' leases, in the KV bucket ANSWER_LEASES_BUCKET: each user has a few
// slots (MAX_ACTIVE_ANSWERS_PER_USER), one key each; an answer's generator
// takes one on a lease (GENERATION_LEASE, the bucket's TTL) and renews it
// while it runs. The slots cap a user's answers in progress across
// instances; a held lease tells readers the answer's generator is alive.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { isCasConflict, isKvMarker, kvStream, kvSubject, removeKey } from "./kv-internals.js";
import { guard } from "./store-errors.js";
import { ANSWER_LEASES_BUCKET, LEGACY_LEASES_BUCKET, keys } from "./subjects.js";

/** The lease an answer in progress holds on one of its user's slots, with the revision its renewals compare against. */
export interface AnswerLease {
  key: string;
  revision: number;
}

export class AnswerSlots {
  constructor(
    /** The bucket as the store has it now (it opens it again after NATS lost it). */
    private readonly bucket: () => KV,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * Leases one of the owner's `slots` to an answer: a key created only if it
   * is free (one publish in the common case; no JetStream API call, which
   * the server queues). Leases expire unless renewed, so a dead instance's
   * answers free their slots. Null when all are taken.
   */
  acquire(owner: string, replyId: string, instanceId: string, slots: number): Promise<AnswerLease | null> {
    return guard(async () => {
      const value = JSON.stringify({ replyId, instanceId });
      // From a random slot on: with many slots taken, the first try is still likely free.
      const first = Math.floor(Math.random() * slots);
      for (let i = 0; i < slots; i++) {
        const key = keys.answerSlot(owner, (first + i) % slots);
        try {
          // Created only if the key holds nothing (expired or removed).
          return { key, revision: await this.bucket().put(key, value, { previousSeq: 0 }) };
        } catch (err) {
          if (!isCasConflict(err)) throw err;
        }
      }
      return null;
    });
  }

  /**
   * Renews a lease. A lease that lapsed (NATS away for longer than
   * GENERATION_LEASE) is taken again if its slot is still free; false if
   * another answer has the slot now.
   */
  renew(lease: AnswerLease, replyId: string, instanceId: string): Promise<boolean> {
    return guard(async () => {
      const value = JSON.stringify({ replyId, instanceId });
      for (const previousSeq of [lease.revision, 0]) {
        try {
          lease.revision = await this.bucket().put(lease.key, value, { previousSeq });
          return true;
        } catch (err) {
          if (!isCasConflict(err)) throw err;
        }
      }
      return false;
    });
  }

  /**
   * Ends a lease: its key removed outright, so the next answer takes the slot
   * in one publish; but only while the slot is still this answer's (a lapsed
   * lease's slot may be another's by now).
   */
  release(lease: AnswerLease): Promise<void> {
    return guard(async () => {
      const entry = await this.bucket().get(lease.key);
      if (entry?.revision === lease.revision) await removeKey(this.jsm, ANSWER_LEASES_BUCKET, lease.key);
    });
  }

  /**
   * Does the answer hold a lease (is its generator alive)? Its owner's
   * `slots` keys are read directly; an instance of an older version keeps its
   * lease in another bucket.
   */
  leaseHeld(owner: string, replyId: string, slots: number): Promise<boolean> {
    return guard(async () => {
      const entries = await Promise.all(
        Array.from({ length: slots }, (_, i) => this.bucket().get(keys.answerSlot(owner, i))),
      );
      if (entries.some((e) => e?.operation === "PUT" && e.json<{ replyId: string }>().replyId === replyId)) return true;
      const legacy = await this.jsm.streams
        .getMessage(kvStream(LEGACY_LEASES_BUCKET), { last_by_subj: kvSubject(LEGACY_LEASES_BUCKET, replyId) })
        .catch(() => null);
      return legacy !== null && !isKvMarker(legacy.header);
    });
  }
}
