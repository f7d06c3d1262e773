import { describe, expect, it } from "vitest";
import {
  DEFAULT_TURNS_PER_PAGE,
  encodePageCursor,
  MAX_TURNS_PER_PAGE,
  pageQuery,
} from "../../app/src/chat/conversation-page.js";

describe("pageQuery", () => {
  it("starts at the beginning with the default page size", () => {
    expect(pageQuery({})).toEqual({ after: 0, limit: DEFAULT_TURNS_PER_PAGE });
  });

  it("continues where a cursor it returned says", () => {
    expect(pageQuery({ limit: "3", cursor: encodePageCursor(4711) })).toEqual({ after: 4711, limit: 3 });
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
