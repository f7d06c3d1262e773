import { describe, expect, it } from "vitest";
import { formatEvent, parseLastEventId } from "../../app/src/chat/sse.js";
import { countUsage } from "../../app/src/chat/generation.js";

describe("formatEvent", () => {
  it("writes id, event and one JSON data line", () => {
    expect(formatEvent({ seq: 7, type: "delta", data: { text: "hi" } })).toBe(
      'id: 7\nevent: delta\ndata: {"text":"hi"}\n\n',
    );
  });

  it("cannot be broken out of by CR or LF in the payload", () => {
    const wire = formatEvent({ seq: 1, type: "delta", data: { text: "a\r\n\nevent: done\rdata: x\n" } });
    expect(wire.split(/\r\n|\r|\n/).filter(Boolean)).toHaveLength(3);
  });
});

describe("parseLastEventId", () => {
  it.each([
    [undefined, 0],
    ["", 0],
    ["12", 12],
    [" 3 ", 3],
  ])("reads %o as %o", (value, expected) => expect(parseLastEventId(value)).toBe(expected));

  it.each(["abc", "-1", "1.5", "9999999999"])("refuses %o", (value) =>
    expect(parseLastEventId(value)).toBeInstanceOf(Error),
  );
});

describe("countUsage", () => {
  it("uses what the provider reported", () => {
    expect(countUsage({ inputTokens: 10, outputTokens: 4 }, [], "", 0)).toEqual({
      inputTokens: 10,
      outputTokens: 4,
      estimated: false,
    });
  });

  it("estimates what is missing at 4 characters a token", () => {
    expect(countUsage({ inputTokens: 10 }, [{ role: "user", content: "x".repeat(40) }], "y".repeat(9), 3)).toEqual({
      inputTokens: 10,
      outputTokens: 3,
      estimated: true,
    });
    expect(countUsage({}, [{ role: "user", content: "x".repeat(40) }], "", 0)).toEqual({
      inputTokens: 10,
      outputTokens: 0,
      estimated: true,
    });
  });
});
