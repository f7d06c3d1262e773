// What /health says for each state of the instance and the store, and the
// reading it answers from: taken at most once per interval, shared by every
// caller meanwhile.
import { describe, expect, it } from "vitest";
import { CachedReading } from "../../app/src/observability/cached-reading.js";
import { healthOf, type StoreReading } from "../../app/src/observability/health.js";

const MIB = 1024 ** 2;
const reading = (logBytes: number, usage = true): StoreReading => ({
  at: Date.parse("2027-01-26T12:00:00Z"),
  usage: usage
    ? [
        { stream: "CONVERSATIONS", bytes: logBytes, messages: 1, maxBytes: 100 * MIB },
        { stream: "KV_conversations", bytes: MIB, messages: 1, maxBytes: 10 * MIB },
        // Answers in progress expire by themselves: never the reason for "degraded".
        { stream: "KV_active-answers", bytes: 64 * MIB, messages: 1, maxBytes: 64 * MIB },
      ]
    : undefined,
});

describe("healthOf", () => {
  it("is 503 while leaving or draining, whatever the store says", () => {
    for (const lifecycle of ["leaving", "draining"] as const) {
      expect(healthOf({ lifecycle, natsConnected: true, reading: reading(0) })).toEqual({
        httpStatus: 503,
        status: "unavailable",
        reason: "draining",
      });
    }
  });

  it("is 503 when NATS is disconnected or JetStream did not answer the last reading", () => {
    for (const [natsConnected, read] of [
      [false, reading(0)],
      [true, reading(0, false)],
      [true, undefined],
    ] as const) {
      expect(healthOf({ lifecycle: "serving", natsConnected, reading: read })).toMatchObject({
        httpStatus: 503,
        reason: "nats_unreachable",
      });
    }
  });

  it("names the fullest stream, ok below 90 %, degraded above, full at the last byte", () => {
    const at = (bytes: number) => healthOf({ lifecycle: "serving", natsConnected: true, reading: reading(bytes) });
    expect(at(5 * MIB)).toMatchObject({
      httpStatus: 200,
      status: "ok",
      // 10 % of its bucket beats 5 % of the log.
      storage: { stream: "KV_conversations", used: 0.1, readAt: "2027-01-26T12:00:00.000Z" },
    });
    expect(at(95 * MIB)).toMatchObject({
      httpStatus: 200,
      status: "degraded",
      reason: "store_nearly_full",
      storage: { stream: "CONVERSATIONS" },
    });
    expect(at(100 * MIB)).toMatchObject({ httpStatus: 200, status: "degraded", reason: "store_full" });
  });
});

describe("CachedReading", () => {
  it("reads once per interval however many ask, and shares a reading under way", async () => {
    let now = 0;
    let reads = 0;
    let release: () => void = () => undefined;
    const cached = new CachedReading(
      () =>
        new Promise<number>((resolve) => {
          reads++;
          release = () => resolve(reads);
        }),
      1000,
      () => now,
    );
    const first = Array.from({ length: 50 }, () => cached.get());
    release();
    expect(await Promise.all(first)).toEqual(Array(50).fill(1));
    now = 999;
    expect(await cached.get()).toBe(1);
    expect(reads).toBe(1);
    now = 1000;
    const second = cached.get();
    release();
    expect(await second).toBe(2);
    expect(reads).toBe(2);
  });
});
