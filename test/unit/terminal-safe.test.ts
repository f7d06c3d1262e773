// What a host or a bucket says is shown, never obeyed, by the operator's terminal.
import { describe, expect, it } from "vitest";
import { terminalSafe } from "../../infra/host/runner/terminal-safe.js";

describe("terminalSafe", () => {
  it("keeps text, newlines and tabs as they are", () => {
    const text = "release 3f2a installed\n\tapi-1 healthy — «ok» 🚀\n";
    expect(terminalSafe(text)).toBe(text);
  });

  it.each([
    ["a colour (CSI SGR)", "\u001b[31mred\u001b[0m", "\\u001b[31mred\\u001b[0m"],
    ["clearing the screen", "ok\u001b[2J\u001b[H", "ok\\u001b[2J\\u001b[H"],
    ["a window title (OSC 0, BEL)", "\u001b]0;pwned\u0007", "\\u001b]0;pwned\\u0007"],
    ["writing the clipboard (OSC 52, ST)", "\u001b]52;c;Y3VybCBldmls\u001b\\", "\\u001b]52;c;Y3VybCBldmls\\u001b\\"],
    [
      "a disguised link (OSC 8)",
      "\u001b]8;;https://evil.example\u0007bank\u001b]8;;\u0007",
      "\\u001b]8;;https://evil.example\\u0007bank\\u001b]8;;\\u0007",
    ],
    ["a C1 CSI", "\u009b31mred", "\\u009b31mred"],
    ["a C1 OSC", "\u009d0;title\u009c", "\\u009d0;title\\u009c"],
    ["backspaces over text", "rm -rf /\b\b\b\b\b\b\bls", "rm -rf /\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008ls"],
    ["NUL, vertical tab, form feed, DEL", "a\u0000b\u000bc\u000cd\u007f", "a\\u0000b\\u000bc\\u000cd\\u007f"],
  ])("makes %s visible text", (_what, input, shown) => {
    expect(terminalSafe(input)).toBe(shown);
  });

  it("drops carriage returns: a CRLF still ends a line, and no later text can overwrite earlier text", () => {
    expect(terminalSafe("one\r\ntwo\r\n")).toBe("one\ntwo\n");
    expect(terminalSafe("backup failed\rbackup ok    ")).toBe("backup failedbackup ok    ");
  });

  it("leaves no control character but newline and tab", () => {
    const every = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join("");
    // eslint-disable-next-line no-control-regex
    expect(terminalSafe(every)).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(terminalSafe(every)).toContain("\t\n");
  });

  it("keeps JSON valid, with the same value", () => {
    const value = { source: "ops@laptop\u001b]0;x\u0007\u009b2J", lines: ["a\u007f", "tab\there"] };
    const text = JSON.stringify(value);
    expect(JSON.parse(terminalSafe(text))).toEqual(value);
  });
});
