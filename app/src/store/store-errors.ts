// What a failed store call means for a client: the store is full (an
// operator must act; retrying soon will not help) or unreachable for now
// (a NATS restart or outage). Either way a 503, never a 500.
import { JetStreamApiError } from "@nats-io/jetstream";

export class StoreError extends Error {
  constructor(
    readonly reason: "full" | "unavailable",
    cause: unknown,
  ) {
    super(reason === "full" ? "the chat store is full" : "the chat store is unavailable", { cause });
    this.name = "StoreError";
  }
}

// JetStream's codes for writes refused by a limit: insufficient resources
// (the server's max_file_store), and a stream's max bytes or messages with
// the "discard new" policy.
const FULL_CODES = new Set([10047, 10077, 10078]);
const FULL_TEXT = /maximum (bytes|messages) exceeded|insufficient (storage )?resources|resource limits exceeded/i;

export function classifyStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const full =
    (err instanceof JetStreamApiError && FULL_CODES.has(err.code)) ||
    (err instanceof Error && FULL_TEXT.test(err.message));
  return new StoreError(full ? "full" : "unavailable", err);
}
