// The shared bounded poller (test/harness/until.ts).
import { describe, expect, it } from "vitest";
import { until } from "../harness/until.js";

describe("until", () => {
  it("returns the first value that holds, reading again while it does not or the read throws", async () => {
    let reads = 0;
    const value = await until(
      "the third read",
      () => {
        reads++;
        if (reads === 1) throw new Error("not up yet");
        return reads;
      },
      (n) => n >= 3,
      5_000,
      1,
    );
    expect(value).toBe(3);
    expect(reads).toBe(3);
  });

  it("takes a truthy value as done unless told otherwise", async () => {
    expect(await until("a truthy read", () => "yes", undefined, 1_000, 1)).toBe("yes");
  });

  it("fails after its bound naming what it waited for and the last value or error", async () => {
    await expect(
      until(
        "the answer",
        () => ({ answer: 41 }),
        (v) => v.answer === 42,
        0,
        1,
      ),
    ).rejects.toThrow('the answer: not reached in 0 ms; last seen: {"answer":41}');
    await expect(
      until(
        "a server",
        () => {
          throw new Error("ECONNREFUSED");
        },
        undefined,
        0,
        1,
      ),
    ).rejects.toThrow("a server: not reached in 0 ms; last seen: error ECONNREFUSED");
  });
});
