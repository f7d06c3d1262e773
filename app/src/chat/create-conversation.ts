// Creating a conversation: its record's bytes are charged to the user's
// storage quota before it is stored, and given back if it cannot be; a
// refusal is returned (with the quota's count) for the route to say.
import { randomUUID } from "node:crypto";
import type { ConversationRecord } from "../store/records.js";
import type { ChatDeps } from "./chat-deps.js";
import { conversationRecordBytes, type QuotaResult } from "./storage-quota.js";

export type Created =
  { refused?: undefined; record: ConversationRecord } | { refused: "storage_quota"; charged: QuotaResult };

export async function createConversation(
  deps: Pick<ChatDeps, "store" | "quota">,
  owner: string,
  title: string | null,
  now = new Date(),
): Promise<Created> {
  const { store, quota } = deps;
  const at = now.toISOString();
  // Created and updated at once: never sent to (start-answer.ts reads no log for it).
  const record: ConversationRecord = { id: randomUUID(), title, createdAt: at, updatedAt: at };
  const bytes = conversationRecordBytes(store.sizes.recordSubject(owner, record.id), JSON.stringify(record));
  const charged = await quota.charge(owner, bytes);
  if (!charged.allowed) return { refused: "storage_quota", charged };
  try {
    await store.createConversation(owner, record);
  } catch (err) {
    await quota.add(owner, -bytes);
    throw err;
  }
  await quota.recountIfDue(owner, charged);
  return { record };
}
