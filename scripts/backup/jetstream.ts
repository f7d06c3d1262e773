// JetStream's own stream snapshot and restore API (the one `nats stream
// backup` and `nats stream restore` drive), over a plain NATS connection: the
// JavaScript client has no call for it. The bytes are the server's
// s2-compressed tar of the stream; nothing here reads or changes them.
//
// Snapshot: subscribe to a subject of ours, ask $JS.API.STREAM.SNAPSHOT.<name>
// to deliver there, acknowledge every chunk at once (the server stops sending
// when too much is unacknowledged), and stop at the empty message whose
// status is 204; any other status is the server giving up.
// Restore: $JS.API.STREAM.RESTORE.<name> answers with a subject; each chunk
// is a request to it answered by an empty message, and an empty request ends
// the upload and is answered with the new stream's info.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { BackupError } from "./manifest.js";

const CHUNK_BYTES = 128 * 1024;
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
  config: Record<string, unknown>;
  state: StreamState;
  bytes: number;
  sha256: string;
}

/** Writes the snapshot of `stream` to `path` (consumers left out: the API's are ephemeral). */
export async function snapshotStream(nc: NatsConnection, stream: string, path: string): Promise<SnapshotResult> {
  const deliver = createInbox();
  const sub = nc.subscribe(deliver);
  const hash = createHash("sha256");
  const fd = openSync(path, "w", 0o600);
  let bytes = 0;
  try {
    const started = await api<{ config: Record<string, unknown>; state: StreamState }>(
      nc,
      `$JS.API.STREAM.SNAPSHOT.${stream}`,
      { deliver_subject: deliver, no_consumers: true, chunk_size: CHUNK_BYTES },
    );
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
        writeSync(fd, message.data);
        hash.update(message.data);
        bytes += message.data.length;
        if (message.reply) nc.publish(message.reply);
      }
    } finally {
      clearTimeout(idle);
    }
    if (!complete)
      throw new BackupError(
        stalled
          ? `the snapshot of ${stream} sent nothing for ${SNAPSHOT_IDLE_MS / 1000} s`
          : `the snapshot of ${stream} ended before the server said it was complete`,
      );
    return { config: started.config, state: started.state, bytes, sha256: hash.digest("hex") };
  } finally {
    sub.unsubscribe();
    closeSync(fd);
  }
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
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      const reply = await nc.request(deliver, chunk.subarray(0, read), { timeout: API_TIMEOUT_MS });
      if (reply.data.length > 0)
        throw new BackupError(`the server refused a chunk of ${stream}: ${reply.string().slice(0, 300)}`);
    }
  } finally {
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
