// How full the chat store is, as /health reports it: "degraded" while there
// is still room, so an operator hears of it before writes start failing.
import type { StreamUsage } from "./chat-store.js";

/** Share of the limit from which /health says "degraded". */
export const DEGRADED_AT = 0.9;

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
