// How large the pieces of a snapshot or restore are, and how many of a
// restore's are on the wire at once: decided here, carried out in
// jetstream.ts. Measured through an SSH tunnel (docs/benchmarks.md): a
// restore that waits for each chunk's answer before sending the next loses
// about 40 ms a chunk, the host's sshd holding the small answer back (Nagle)
// until this machine acknowledges the last packet, which it delays; 128 KiB
// chunks moved 2.4 MB/s where a plain copy moved 50. Larger chunks, the
// next one sent while the server answers the last, and PINGs meanwhile
// remove those waits.

/**
 * While a restore's chunks are on the wire, a NATS PING this often. With
 * nothing else to send while it waits for an answer, this machine delays
 * its acknowledgement of the host's last packet, and the host's sshd holds
 * the answer back until it comes (Nagle's algorithm: sshd sets no
 * TCP_NODELAY on a session without a terminal). A PING carries the
 * acknowledgement at once: measured through the tunnel, two chunks on the
 * wire went from 60 to 93-114 MB/s, as fast as four without it. Six bytes
 * each way per PING.
 */
export const RESTORE_PING_MS = 2;

/** The largest chunk: nats-server's default max_payload, which the stack keeps. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** What the old servers' snapshots used, for a server that does not say its max_payload. */
const FALLBACK_CHUNK_BYTES = 128 * 1024;

/**
 * Chunks a restore keeps on the wire before waiting for the oldest's answer.
 * Never more than 2: nats-server 2.10 stages a restore's chunks on the
 * reading side of the connection and reports a failure (no room left)
 * through a slot that holds one; each chunk past the refused one adds a
 * report, and a third blocks the server's reading of this connection for
 * good (seen with 8: the connection stops answering). With 2, at most one
 * chunk follows the refused one.
 */
export const RESTORE_CHUNKS_IN_FLIGHT = 2;

/**
 * The chunk size for a server whose max_payload is `maxPayload` (its INFO):
 * the largest a client may publish, up to MAX_CHUNK_BYTES. A restore's
 * chunks are published, so one larger than max_payload would be refused.
 */
export function chunkBytes(maxPayload: number | undefined): number {
  if (maxPayload === undefined || !Number.isSafeInteger(maxPayload) || maxPayload <= 0) return FALLBACK_CHUNK_BYTES;
  return Math.min(MAX_CHUNK_BYTES, maxPayload);
}
