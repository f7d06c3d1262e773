// Reading a conversation: a page of its messages, each with its answer. An
// answer the page holds still event by event is compacted as it is read
// (stored as one record, as every answer ended since is): one a version
// before compaction wrote, or one whose generator died without ending it
// (its lease lapsed). So a read may write; a failed compaction is logged and
// the page is answered from what was read.
import type { Logger } from "pino";
import type { AnswerRecord, ConversationRecord, LogRecord } from "../store/records.js";
import type { ChatDeps } from "./chat-deps.js";
import { uncompactedAnswers } from "./compaction.js";
import { encodePageCursor, PAGE_MAX_BYTES, type PageQuery } from "./conversation-page.js";
import { foldLog, type ChatMessage } from "./history.js";

export interface ConversationPage extends ConversationRecord {
  messages: ChatMessage[];
  /** Where the next page starts; null on the last page. */
  nextCursor: string | null;
}

/** The page, or null when the user has no such conversation. */
export async function readConversation(
  deps: Pick<ChatDeps, "store" | "config">,
  owner: string,
  id: string,
  query: PageQuery,
  log: Pick<Logger, "warn">,
): Promise<ConversationPage | null> {
  const conversation = await deps.store.getConversation(owner, id);
  if (!conversation) return null;
  const page = await deps.store.pages.read(conversation.id, { ...query, maxBytes: PAGE_MAX_BYTES });
  const compacted = await compactOnRead(deps, owner, conversation.id, page.log).catch((err: unknown) => {
    log.warn({ err }, "could not compact the conversation's answers");
    return [];
  });
  return {
    ...conversation,
    messages: foldLog([...page.log, ...compacted]),
    nextCursor: page.next === null ? null : encodePageCursor(page.next),
  };
}

/**
 * Stores answers the log still holds event by event as one record each: those
 * that ended (written by versions before compaction) and those whose lease
 * lapsed (generator dead). Returns the records stored.
 */
async function compactOnRead(
  deps: Pick<ChatDeps, "store" | "config">,
  owner: string,
  conversationId: string,
  log: readonly LogRecord[],
): Promise<AnswerRecord[]> {
  const { store, config } = deps;
  const stored: AnswerRecord[] = [];
  for (const answer of uncompactedAnswers(log)) {
    const alive = !answer.ended && (await store.slots.leaseHeld(owner, answer.replyId, config.maxActiveAnswersPerUser));
    const record = answer.ended ?? (alive ? undefined : answer.ifDead);
    if (!record) continue;
    if (await store.finishAnswerIfKept(owner, conversationId, record, { legacyEvents: true })) stored.push(record);
  }
  return stored;
}
