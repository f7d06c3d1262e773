// A conversation read a page at a time, oldest first. Without `limit`, a
// page holds as many of the user's messages (with their answers) as fit in
// PAGE_MAX_BYTES: clients that never learnt paging get a conversation whole
// unless it is huge. With `limit`, at most that many. Either way a page
// stops past PAGE_MAX_BYTES, so reading a conversation of any length takes
// bounded memory. The cursor is opaque to clients: where the next page starts.

export const MAX_TURNS_PER_PAGE = 200;
/** A page stops once its records hold this much (after one message at least). */
export const PAGE_MAX_BYTES = 1024 * 1024;

export interface PageQuery {
  /** Stream sequence after which the page starts (0: the beginning). */
  after: number;
  /** The user's messages at most; undefined: as many as fit in PAGE_MAX_BYTES. */
  limit: number | undefined;
}

export function pageQuery(query: { limit?: string; cursor?: string }): PageQuery | Error {
  const limit = query.limit === undefined ? undefined : Number(query.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_TURNS_PER_PAGE)) {
    return new Error(`limit must be a whole number from 1 to ${MAX_TURNS_PER_PAGE}.`);
  }
  if (query.cursor === undefined) return { after: 0, limit };
  const after = decodePageCursor(query.cursor);
  if (after === undefined) return new Error("The cursor is not one this API returned; start again without it.");
  return { after, limit };
}

export function encodePageCursor(after: number): string {
  return Buffer.from(JSON.stringify({ after })).toString("base64url");
}

function decodePageCursor(cursor: string): number | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    const after = (value as { after?: unknown } | null)?.after;
    if (Number.isSafeInteger(after) && (after as number) > 0) return after as number;
  } catch {
    // Not ours: reported by the caller.
  }
  return undefined;
}
