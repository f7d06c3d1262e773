// The resume watchdog's rule, check by check: quiet answers only, a deleted
// conversation at once, a dead generator's end stored (and the stream left
// to the record), and what can never end given up on after two failed
// checks in a row.
import { describe, expect, it } from "vitest";
import { ResumeWatchdog, type AnswerChecks } from "../../app/src/chat/resume-watchdog.js";

const LEASE = 4_000;

function watchdog(state: { exists?: boolean; alive?: boolean | Error; store?: Error }) {
  const calls: string[] = [];
  const checks: AnswerChecks = {
    conversationExists: async () => (calls.push("exists"), state.exists ?? true),
    generatorAlive: async () => {
      calls.push("alive");
      if (state.alive instanceof Error) throw state.alive;
      return state.alive ?? false;
    },
    storeInterruptedEnd: async () => {
      calls.push("store");
      if (state.store) throw state.store;
    },
    failed: () => void calls.push("failed"),
  };
  const now = 100_000;
  return { dog: new ResumeWatchdog(checks, LEASE, () => now), calls, quiet: now - LEASE / 2, busy: now - 10 };
}

describe("ResumeWatchdog", () => {
  it("asks nothing while records arrive", async () => {
    const { dog, calls, busy } = watchdog({ exists: false });
    expect(await dog.check(busy)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("ends at once when the conversation is gone", async () => {
    const { dog, quiet } = watchdog({ exists: false });
    expect(await dog.check(quiet)).toBe("conversation_deleted");
  });

  it("waits for a live generator however long it is quiet", async () => {
    const { dog, calls, quiet } = watchdog({ alive: true });
    for (let i = 0; i < 5; i++) expect(await dog.check(quiet)).toBeUndefined();
    expect(calls.filter((c) => c === "store")).toEqual([]);
  });

  it("stores a dead generator's end once, and gives up if that record never arrives", async () => {
    const { dog, calls, quiet } = watchdog({});
    expect(await dog.check(quiet)).toBeUndefined();
    expect(calls).toEqual(["exists", "alive", "store"]);
    expect(await dog.check(quiet)).toBe("answer_unavailable");
    expect(calls.filter((c) => c === "store")).toHaveLength(1);
  });

  it("gives up after two failed checks in a row: an end that cannot be stored, or a store that does not answer", async () => {
    for (const state of [{ store: new Error("full") }, { alive: new Error("timeout") }]) {
      const { dog, quiet } = watchdog(state);
      expect(await dog.check(quiet)).toBeUndefined();
      expect(await dog.check(quiet)).toBe("answer_unavailable");
    }
  });

  it("forgives a single failure once records arrive again", async () => {
    const state: { alive?: boolean | Error } = { alive: new Error("timeout") };
    const { dog, quiet, busy } = watchdog(state);
    expect(await dog.check(quiet)).toBeUndefined();
    expect(await dog.check(busy)).toBeUndefined();
    expect(await dog.check(quiet)).toBeUndefined();
    expect(await dog.check(quiet)).toBe("answer_unavailable");
  });
});
