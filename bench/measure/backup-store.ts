// A store of a given size for the backup measure, built quickly: the API's
// streams made as the API makes them, and the conversation log filled with
// large messages of random bytes (which s2 cannot shrink, so the snapshot
// carries as many bytes as the store holds). Bounded by the size asked for.
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StorageOptions } from "../../app/src/store/storage-config.js";
import { backedUpStreams } from "../../scripts/backup/owned-streams.js";

/** Under the test server's 1 MB max_payload, with room for headers. */
const MESSAGE_BYTES = 512 * 1024;
/** Publishes awaited together: enough to keep the server's disk busy. */
const IN_FLIGHT = 32;

/** The storage settings the store is made (and restored) with: room for `bytes` and a margin. */
export function benchStorage(bytes: number): StorageOptions {
  return { replicas: 1, leaseTtlMs: 30_000, retentionMs: 0, maxBytes: Math.ceil(bytes * 1.25) };
}

/** Makes every stream a backup holds and fills the conversation log with at least `bytes` of messages. */
export async function fillStore(nc: NatsConnection, bytes: number, storage: StorageOptions): Promise<number> {
  const jsm = await jetstreamManager(nc);
  for (const config of backedUpStreams(storage).values()) await jsm.streams.add(config);
  const js = jetstream(nc, { timeout: 60_000 });
  const count = Math.ceil(bytes / MESSAGE_BYTES);
  for (let sent = 0; sent < count; sent += IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(IN_FLIGHT, count - sent) }, (_, i) =>
      js.publish(`conv.bench.${sent + i}`, randomBytes(MESSAGE_BYTES)),
    );
    await Promise.all(batch);
  }
  return count;
}
