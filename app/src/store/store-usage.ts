// How full the chat store is, for /health and /metrics: the size of every
// stream it uses (and how its copies stand, for /metrics), read through a JetStream manager of its own with a short
// timeout, so a slow NATS makes /health answer late by a second at most.
import type { JetStreamManager } from "@nats-io/jetstream";
import { kvStream } from "./kv-internals.js";
import { streamReplication, type StreamReplication } from "./stream-replication.js";
import { ANSWER_LEASES_BUCKET, CONTEXTS_BUCKET, CONVERSATIONS_BUCKET, CONVERSATIONS_STREAM } from "./subjects.js";

/** The streams the store uses: the log and its buckets' streams. */
export const STORE_STREAMS = [
  CONVERSATIONS_STREAM,
  ...[CONVERSATIONS_BUCKET, CONTEXTS_BUCKET, ANSWER_LEASES_BUCKET].map(kvStream),
] as const;

export interface StreamUsage {
  bytes: number;
  messages: number;
  /** 0: no limit. */
  maxBytes: number;
}

export class StoreUsage {
  constructor(private readonly probe: JetStreamManager) {}

  /**
   * Sizes of every stream the store uses, in one JetStream API request (a
   * page of up to 256 streams' info: an account holds a handful). Throws
   * when JetStream cannot answer.
   */
  async all(): Promise<Array<StreamUsage & StreamReplication & { stream: string }>> {
    const names = new Set<string>(STORE_STREAMS);
    const page = await this.probe.streams.list().next();
    return page
      .filter((info) => names.has(info.config.name))
      .map((info) => ({
        stream: info.config.name,
        bytes: info.state.bytes,
        messages: info.state.messages,
        maxBytes: Math.max(0, info.config.max_bytes),
        ...streamReplication(info),
      }));
  }
}
