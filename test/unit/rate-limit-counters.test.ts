import { describe, expect, it } from "vitest";
import type { StreamConfig } from "@nats-io/jetstream";
import { rateLimitBucketSettings, counterKey, countHits } from "../../app/src/store/rate-limit-counters.js";
import { settingChanges, streamUpdate } from "../../app/src/store/storage-config.js";

const NS_PER_MS = 1_000_000;

describe("rateLimitBucketSettings", () => {
  it("keeps entries a little longer than the window", () => {
    expect(rateLimitBucketSettings({ windowMs: 60_000, replicas: 3 })).toEqual({
      max_age: 65_000 * NS_PER_MS,
      num_replicas: 3,
      max_bytes: 0,
    });
  });
});

// Applied to an existing bucket with the chat store's own mechanism.
describe("rateLimitBucketSettings applied on change (settingChanges, streamUpdate)", () => {
  const wanted = rateLimitBucketSettings({ windowMs: 60_000, replicas: 1 });
  const current = { ...wanted, duplicate_window: 65_000 * NS_PER_MS } as StreamConfig;

  it("changes nothing on a bucket that already fits", () => {
    expect(settingChanges(current, wanted)).toEqual([]);
  });

  it("lengthens the max age when the window grows", () => {
    const longer = rateLimitBucketSettings({ windowMs: 3_600_000, replicas: 1 });
    expect(settingChanges(current, longer).map((c) => c.setting)).toEqual(["max_age"]);
    expect(streamUpdate(current, longer)).toMatchObject({ ...longer, duplicate_window: 65_000 * NS_PER_MS });
  });

  it("shortens the duplicate window with the max age, which JetStream requires", () => {
    const shorter = rateLimitBucketSettings({ windowMs: 10_000, replicas: 1 });
    expect(streamUpdate(current, shorter)).toMatchObject({ ...shorter, duplicate_window: 15_000 * NS_PER_MS });
  });

  it("follows a new replica count", () => {
    const three = rateLimitBucketSettings({ windowMs: 60_000, replicas: 3 });
    expect(settingChanges(current, three)).toEqual([{ setting: "num_replicas", from: 1, to: 3 }]);
  });
});

describe("counterKey", () => {
  it("is a valid KV key for any client or user id, and keeps scopes apart", () => {
    const keys = ["2001:db8::/64", "198.51.100.7", "user with spaces.and*wildcards>", ""].map((k) =>
      counterKey("ip", k),
    );
    for (const key of keys) expect(key).toMatch(/^ip\.[0-9a-f]{32}$/);
    expect(new Set(keys).size).toBe(keys.length);
    expect(counterKey("user", "x")).not.toBe(counterKey("ip", "x"));
    expect(counterKey("user", "x")).toBe(counterKey("user", "x"));
  });
});

describe("countHits (requests counted together in one write)", () => {
  const limits = { requests: 3, windowMs: 60_000 };

  it("lets through as many as the window has room for, in order, and writes the count they reach", () => {
    const { verdicts, next } = countHits({ start: 1_000, count: 1 }, 4, limits, 2_000);
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, false, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([1, 0, 0, 0]);
    expect(next).toEqual({ start: 1_000, count: 3 });
  });

  it("writes nothing when every one of them is refused", () => {
    expect(countHits({ start: 1_000, count: 3 }, 2, limits, 2_000).next).toBeNull();
  });

  it("starts a new window for a client never seen", () => {
    expect(countHits(null, 2, limits, 5_000).next).toEqual({ start: 5_000, count: 2 });
  });
});
