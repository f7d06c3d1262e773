// JetStream's own stream snapshot and restore API (the one `nats stream
// backup` and `nats stream restore` drive), over a plain NATS connection: the
// JavaScript client has no call for it. The bytes are the server's
// s2-compressed tar of the stream; nothing here reads or changes them.
//
// Snapshot: subscribe to a subject of ours, ask $JS.API.STREAM.SNAPSHOT.<name>
// to deliver there, acknowledge each chunk once it is handed on (the server
// stops sending when too much is unacknowledged, so a slow writer slows it),
// and stop at the empty message whose status is 204; any other status is the
// server giving up.
// Restore: $JS.API.STREAM.RESTORE.<name> answers with a subject; each chunk
// is a request to it answered by an empty message (two on the wire at once,
// with PINGs meanwhile: chunking.ts says why), and an empty request ends the
// upload and is answered with the new stream's info.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import type { JetStreamManager } from "@nats-io/jetstream";
import { createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { RESTORE_CHUNKS_IN_FLIGHT, RESTORE_PING_MS, chunkBytes } from "./chunking.js";
import { BackupError } from "./errors.js";

const API_TIMEOUT_MS = 30_000;
/** The server restores from its staged copy after the last chunk; a big stream takes a while. */
const RESTORE_FINISH_TIMEOUT_MS = 3_600_000;
/** A snapshot that sends nothing for this long has stalled. */
const SNAPSHOT_IDLE_MS = 60_000;

export interface StreamState {
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  [key: string]: unknown;
}

interface ApiError {
  error?: { code: number; err_code?: number; description: string };
}

async function api<T>(nc: NatsConnection, subject: string, body: unknown, timeout = API_TIMEOUT_MS): Promise<T> {
  const reply = await nc.request(subject, JSON.stringify(body), { timeout });
  const json = reply.json<T & ApiError>();
  if (json.error)
    throw new BackupError(`${subject}: ${json.error.description} (error ${json.error.err_code ?? json.error.code})`);
  return json;
}

export interface SnapshotResult {
  state: StreamState;
  bytes: number;
  sha256: string;
}

/**
 * The snapshot of `stream` (consumers left out: the API's are ephemeral),
 * chunk by chunk as the server sends it. Each chunk is acknowledged once the
 * reader asks for the next, so a slow reader (a disk, an encryption) slows
 * the server down instead of filling memory. `result` is set when the
 * chunks end, which they do only when the server says the snapshot is complete.
 */
export async function snapshotStream(
  nc: NatsConnection,
  stream: string,
): Promise<{ chunks: AsyncGenerator<Uint8Array>; result: () => SnapshotResult }> {
  const deliver = createInbox();
  const sub = nc.subscribe(deliver);
  let started: { state: StreamState };
  try {
    started = await api<{ state: StreamState }>(nc, `$JS.API.STREAM.SNAPSHOT.${stream}`, {
      deliver_subject: deliver,
      no_consumers: true,
      chunk_size: chunkBytes(nc.info?.max_payload),
    });
  } catch (error) {
    sub.unsubscribe();
    throw error;
  }
  const hash = createHash("sha256");
  let bytes = 0;
  let result: SnapshotResult | undefined;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    // A stalled server sends nothing more: end the subscription, which ends the loop.
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        sub.unsubscribe();
      }, SNAPSHOT_IDLE_MS);
    };
    watch();
    let complete = false;
    try {
      for await (const message of sub) {
        watch();
        if (message.data.length === 0 && !message.reply) {
          const code = message.headers?.code ?? 0;
          if (code !== 204)
            throw new BackupError(
              `the server ended the snapshot of ${stream}: ${code} ${message.headers?.description ?? ""}`.trim(),
            );
          complete = true;
          break;
        }
        hash.update(message.data);
        bytes += message.data.length;
        // Paused here until the reader wants more; idle time meanwhile is the reader's, not the server's.
        clearTimeout(idle);
        yield message.data;
        watch();
        if (message.reply) nc.publish(message.reply);
      }
    } finally {
      clearTimeout(idle);
      sub.unsubscribe();
    }
    if (!complete)
      throw new BackupError(
        stalled
          ? `the snapshot of ${stream} sent nothing for ${SNAPSHOT_IDLE_MS / 1000} s`
          : `the snapshot of ${stream} ended before the server said it was complete`,
      );
    result = { state: started.state, bytes, sha256: hash.digest("hex") };
  }
  return {
    chunks: chunks(),
    result: () => {
      if (!result) throw new BackupError(`the snapshot of ${stream} was not read to its end`);
      return result;
    },
  };
}

/** Restores `stream` from the snapshot at `path`, which must not exist on the server. Resolves to its new state. */
export async function restoreStream(
  nc: NatsConnection,
  stream: string,
  config: Record<string, unknown>,
  state: Record<string, unknown>,
  path: string,
): Promise<StreamState> {
  const { deliver_subject: deliver } = await api<{ deliver_subject: string }>(nc, `$JS.API.STREAM.RESTORE.${stream}`, {
    config,
    state,
  });
  const size = chunkBytes(nc.info?.max_payload);
  // Answers come back in the order the chunks were sent: the oldest is awaited first.
  const pending: Promise<Msg>[] = [];
  const accepted = (reply: Msg) => {
    if (reply.data.length > 0) throw refusal(stream, reply);
  };
  const fd = openSync(path, "r");
  // Keeps this side's acknowledgements flowing while it waits (chunking.ts says why).
  const ping = setInterval(() => void nc.flush().catch(() => undefined), RESTORE_PING_MS);
  try {
    for (;;) {
      const chunk = Buffer.alloc(size);
      const read = readSync(fd, chunk, 0, size, null);
      if (read === 0) break;
      const reply = nc.request(deliver, chunk.subarray(0, read), { timeout: API_TIMEOUT_MS });
      // Handled when its turn comes; until then a failure must not go unhandled.
      reply.catch(() => undefined);
      pending.push(reply);
      if (pending.length >= RESTORE_CHUNKS_IN_FLIGHT) accepted(await pending.shift()!);
    }
    for (const reply of pending.splice(0)) accepted(await reply);
  } finally {
    clearInterval(ping);
    closeSync(fd);
  }
  const done = await nc.request(deliver, new Uint8Array(0), { timeout: RESTORE_FINISH_TIMEOUT_MS });
  const info = done.json<{ state?: StreamState } & ApiError>();
  if (info.error || !info.state)
    throw new BackupError(
      `the server could not restore ${stream}: ${info.error?.description ?? done.string().slice(0, 300)}`,
    );
  return info.state;
}

/** A chunk answered with anything but an empty message: the server's words, and the fix when it is room. */
function refusal(stream: string, reply: Msg): BackupError {
  let error: ApiError["error"];
  try {
    error = reply.json<ApiError>().error;
  } catch {
    error = undefined;
  }
  if (!error) return new BackupError(`the server refused a chunk of ${stream}: ${reply.string().slice(0, 300)}`);
  const room =
    error.err_code === 10023
      ? ": its JetStream store has no room for the backup (max_file_store in templates/stack/nats-server.conf, or the disk); make room and restore again"
      : "";
  return new BackupError(
    `the server stopped the restore of ${stream}: ${error.description} (error ${error.err_code ?? error.code})${room}`,
  );
}

/** The streams the server holds, by name. */
export async function streamNames(jsm: JetStreamManager): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  return names.sort();
}
