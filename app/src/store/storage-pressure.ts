// How full the chat store is, as /health reports it: "degraded" while there
// is still room, so an operator hears of it before writes start failing.
import type { StreamUsage } from "./store-usage.js";
import { kvStream } from "./kv-internals.js";
import { CONTEXTS_BUCKET, CONVERSATIONS_BUCKET, CONVERSATIONS_STREAM } from "./subjects.js";

/** Share of the limit from which /health says "degraded". */
export const DEGRADED_AT = 0.9;

/** The streams whose filling refuses new messages (answers in progress expire by themselves). */
const FILLING_STREAMS = new Set([CONVERSATIONS_STREAM, kvStream(CONVERSATIONS_BUCKET), kvStream(CONTEXTS_BUCKET)]);

export interface StoragePressure {
  state: "ok" | "degraded" | "full";
  usedBytes: number;
  limitBytes: number;
  /** Used share of the limit, 0 to 1; 0 without a limit. */
  used: number;
}

export function storagePressure(usage: StreamUsage, degradedAt = DEGRADED_AT): StoragePressure {
  const used = usage.maxBytes > 0 ? Math.min(1, usage.bytes / usage.maxBytes) : 0;
  // "Full" a little before the last byte: the next message would not fit.
  const state = used >= 0.999 ? "full" : used >= degradedAt ? "degraded" : "ok";
  return { state, usedBytes: usage.bytes, limitBytes: usage.maxBytes, used: Math.round(used * 1000) / 1000 };
}

/** The fullest of the streams that can refuse messages, by share of its limit; undefined if none was read. */
export function fullestStream<T extends StreamUsage & { stream: string }>(usage: readonly T[]): T | undefined {
  const share = (u: StreamUsage) => (u.maxBytes > 0 ? u.bytes / u.maxBytes : 0);
  return usage
    .filter((u) => FILLING_STREAMS.has(u.stream))
    .reduce<T | undefined>((a, b) => (a && share(a) >= share(b) ? a : b), undefined);
}
