// What a failed store call means for a client: the store is full (an
// operator must act; retrying soon will not help) or unreachable for now
// (a NATS restart or outage). Either way a 503, never a 500. Anything else
// (a bug, a record this code cannot read) is left as it is: a 500, logged.
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";

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
const NATS_ERRORS: Array<abstract new (...args: never[]) => Error> = [
  JetStreamError,
  JetStreamApiError,
  natsErrors.ClosedConnectionError,
  natsErrors.ConnectionError,
  natsErrors.DrainingConnectionError,
  natsErrors.NoRespondersError,
  natsErrors.RequestError,
  natsErrors.TimeoutError,
];

/** A StoreError for what NATS said; undefined for anything that is not NATS's. */
export function classifyStoreError(err: unknown): StoreError | undefined {
  if (err instanceof StoreError) return err;
  if (!NATS_ERRORS.some((type) => err instanceof type)) return undefined;
  const full =
    (err instanceof JetStreamApiError && FULL_CODES.has(err.code)) ||
    (err instanceof Error && FULL_TEXT.test(err.message));
  return new StoreError(full ? "full" : "unavailable", err);
}

/** Runs a store call, its NATS failures turned into StoreErrors. */
export async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyStoreError(err) ?? err;
  }
}
