// Answers in progress, in the KV bucket `active-answers`: each user has a
// few slots, one key each, that an answer's generator takes and keeps alive.
// A slot is the cap on a user's answers in progress across instances, and
// the lease that tells readers whether an answer's generator is alive.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { isCasConflict, isKvMarker, kvStream, kvSubject, removeKey } from "./kv-internals.js";
import { guard } from "./store-errors.js";
import { ACTIVE_ANSWERS_BUCKET, LEGACY_LEASES_BUCKET, keys } from "./subjects.js";

/** A user's slot held by an answer in progress, with the revision its renewals compare against. */
export interface AnswerSlot {
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
   * Takes one of the owner's `slots` for an answer: a key created only if it
   * is free (one publish in the common case; no JetStream API call, which
   * the server queues). Slots expire unless renewed, so a dead instance's
   * answers free theirs. Null when all are taken.
   */
  acquire(owner: string, replyId: string, instanceId: string, slots: number): Promise<AnswerSlot | null> {
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
   * Keeps a slot alive. A slot that lapsed (NATS away for longer than the
   * lease) is taken again if it is still free; false if another answer has
   * it now.
   */
  renew(slot: AnswerSlot, replyId: string, instanceId: string): Promise<boolean> {
    return guard(async () => {
      const value = JSON.stringify({ replyId, instanceId });
      for (const previousSeq of [slot.revision, 0]) {
        try {
          slot.revision = await this.bucket().put(slot.key, value, { previousSeq });
          return true;
        } catch (err) {
          if (!isCasConflict(err)) throw err;
        }
      }
      return false;
    });
  }

  /**
   * Frees a slot: removed outright, so the next answer takes it in one
   * publish; but only while it is still this answer's (a lapsed slot may be
   * another's by now).
   */
  release(slot: AnswerSlot): Promise<void> {
    return guard(async () => {
      const entry = await this.bucket().get(slot.key);
      if (entry?.revision === slot.revision) await removeKey(this.jsm, ACTIVE_ANSWERS_BUCKET, slot.key);
    });
  }

  /**
   * Is the answer's generator alive? Its owner's `slots` keys are read
   * directly; an instance of an older version keeps its lease in another bucket.
   */
  isActive(owner: string, replyId: string, slots: number): Promise<boolean> {
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
