// Deleting a conversation once, however many deletes of it race on any
// instances. Its record goes by a compare-and-set on the revision read, so
// one delete wins; only the winner gives the conversation's bytes back to
// its user's storage quota, measured before the record went (no delete
// removes anything of a conversation before it has won). Instances are told
// to stop its answers and end its resume streams only once the record is
// gone: a delete that fails before then leaves everything as it was.
//
// For clients a DELETE is idempotent: 204 when the conversation is gone at
// the end of the request (removed by this one or by one that raced it, or
// finished from where an earlier delete was cut short), 404 when there was
// no such conversation when it arrived, as for a DELETE sent again later.
import { StoreError } from "../store/store-errors.js";
import type { ChatRulesStore, QuotaCounters } from "./chat-deps.js";

/** Records changed under a delete (messages sent meanwhile) before it gives up with a 503. */
const MAX_ATTEMPTS = 5;

/** Deletes the conversation; false if the user had none with this id. */
export async function deleteConversation(
  deps: { store: ChatRulesStore; quota: QuotaCounters },
  owner: string,
  id: string,
): Promise<boolean> {
  const { store, quota } = deps;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const entry = await store.conversationEntry(owner, id);
    // Gone after the first read: a delete that raced this one removed it all.
    if (entry === null) return attempt > 1;
    if (entry === "removed") {
      // Another delete won, or one was cut short after the record went: its rest is done again.
      await store.finishRemoval(owner, id);
      return true;
    }
    const bytes = await quota.conversationBytes(owner, entry.record);
    // Lost: another delete won, or a message changed the record; read again.
    if (!(await store.removeConversation(owner, id, entry.revision))) continue;
    await quota.add(owner, -bytes);
    await store.finishRemoval(owner, id);
    return true;
  }
  throw new StoreError(
    "unavailable",
    new Error(`conversation ${id} changed ${MAX_ATTEMPTS} times while it was being deleted`),
  );
}
