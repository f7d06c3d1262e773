// What an instance says about itself. 503 only when it cannot serve
// (leaving or draining, NATS or JetStream not answering): the proxy then
// sends traffic elsewhere. A store filling up is "degraded" with 200: every
// instance shares it, reads still work, and an operator must act (see
// docs/operations.md). Anyone may read the bare status; the details (which
// stream, how full, the provider, the instance) are for the host only.
import type { StreamUsage } from "../store/store-usage.js";
import { fullestStream, storagePressure, type StoragePressure } from "../store/storage-pressure.js";

/** The store's streams as last read, and when; `usage` undefined: JetStream did not answer. */
export interface StoreReading {
  at: number;
  usage: Array<StreamUsage & { stream: string }> | undefined;
}

export interface Health {
  httpStatus: 200 | 503;
  status: "ok" | "degraded" | "unavailable";
  reason?: "draining" | "nats_unreachable" | "store_full" | "store_nearly_full";
  storage?: StoragePressure & { stream: string; readAt: string };
}

export function healthOf(input: {
  lifecycle: "serving" | "leaving" | "draining";
  natsConnected: boolean;
  /** Undefined when not read (not needed: leaving, or NATS disconnected). */
  reading: StoreReading | undefined;
}): Health {
  if (input.lifecycle !== "serving") return { httpStatus: 503, status: "unavailable", reason: "draining" };
  const fullest = input.natsConnected && input.reading?.usage ? fullestStream(input.reading.usage) : undefined;
  if (!fullest || !input.reading) return { httpStatus: 503, status: "unavailable", reason: "nats_unreachable" };
  const storage = {
    stream: fullest.stream,
    ...storagePressure(fullest),
    readAt: new Date(input.reading.at).toISOString(),
  };
  if (storage.state === "ok") return { httpStatus: 200, status: "ok", storage };
  const reason = storage.state === "full" ? "store_full" : "store_nearly_full";
  return { httpStatus: 200, status: "degraded", reason, storage };
}
