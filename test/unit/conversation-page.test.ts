import { describe, expect, it } from "vitest";
import { encodePageCursor, MAX_TURNS_PER_PAGE, pageQuery } from "../../app/src/chat/conversation-page.js";

describe("pageQuery", () => {
  it("starts at the beginning with no count limit (only the byte cap) unless a limit is asked for", () => {
    expect(pageQuery({})).toEqual({ after: 0, limit: undefined });
    expect(pageQuery({ limit: "50" })).toEqual({ after: 0, limit: 50 });
  });

  it("continues where a cursor it returned says, with or without a limit", () => {
    expect(pageQuery({ limit: "3", cursor: encodePageCursor(4711) })).toEqual({ after: 4711, limit: 3 });
    expect(pageQuery({ cursor: encodePageCursor(4711) })).toEqual({ after: 4711, limit: undefined });
  });

  it("refuses a limit out of range and a cursor it did not make, saying what to do", () => {
    expect(pageQuery({ limit: String(MAX_TURNS_PER_PAGE + 1) })).toEqual(
      new Error(`limit must be a whole number from 1 to ${MAX_TURNS_PER_PAGE}.`),
    );
    for (const cursor of ["x", encodePageCursor(0), Buffer.from('{"after":-3}').toString("base64url")]) {
      expect((pageQuery({ cursor }) as Error).message, cursor).toMatch(/start again without it/);
    }
  });
});
