// A user's conversations, most recently active first, a page at a time. The
// cursor is opaque to clients: the sort key and id of the page's last item.
import type { ConversationRecord } from "../store/records.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** One page of a user's list of conversations. */
export interface ConversationListPage {
  conversations: ConversationRecord[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

const activity = (c: ConversationRecord) => c.updatedAt ?? c.createdAt;

export function pageOfConversations(
  all: readonly ConversationRecord[],
  query: { limit?: number; cursor?: string },
): ConversationListPage | Error {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    return new Error(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  }
  const sorted = [...all].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id.localeCompare(a.id));
  let start = 0;
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    if (!after) return new Error("The cursor is not one this API returned; start again without it.");
    // Everything strictly after the cursor's position in the order above.
    start = sorted.findIndex((c) => {
      const order = after.at.localeCompare(activity(c)) || after.id.localeCompare(c.id);
      return order > 0;
    });
    if (start < 0) start = sorted.length;
  }
  const conversations = sorted.slice(start, start + limit);
  const last = conversations.at(-1);
  const more = start + limit < sorted.length;
  return { conversations, nextCursor: more && last ? encodeCursor(activity(last), last.id) : null };
}

function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString("base64url");
}

function decodeCursor(cursor: string): { at: string; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "string") {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // Not ours: reported below.
  }
  return undefined;
}
