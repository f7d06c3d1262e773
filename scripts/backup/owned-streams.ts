// Which streams a backup holds and what they look like when restored, from
// the API's own storage declarations (app/src/store/storage-config.ts): a
// backup is trusted for its messages only, never for which streams exist or
// how they are configured. A stream the app does not declare is neither
// backed up nor restored; a restored one gets the configuration the API
// itself would give it.
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { RATE_LIMIT_BUCKET } from "../../app/src/store/rate-limit-counters.js";
import { revocationsBucket } from "../../app/src/store/revocations.js";
import { STORED_BYTES_BUCKET } from "../../app/src/store/stored-bytes-counters.js";
import { TOKEN_BUDGET_BUCKET } from "../../app/src/store/token-budget-counters.js";
import {
  chatBuckets,
  conversationStreamConfig,
  nanos,
  type StorageOptions,
} from "../../app/src/store/storage-config.js";
import { kvStream, kvSubject } from "../../app/src/store/kv-internals.js";
import { ANSWER_LEASES_BUCKET, LEGACY_LEASES_BUCKET } from "../../app/src/store/subjects.js";

/**
 * State that only means something to the processes running now: rate-limit
 * counters, the answers' leases (and the leases bucket of releases before
 * them), the users' token budgets and counts of stored bytes. Not
 * backed up, and not restored from older backups that hold them: a restored
 * lease would make a dead answer look alive, a restored count would be
 * another moment's.
 */
const EPHEMERAL_STREAMS: ReadonlySet<string> = new Set(
  [RATE_LIMIT_BUCKET, ANSWER_LEASES_BUCKET, LEGACY_LEASES_BUCKET, TOKEN_BUDGET_BUCKET, STORED_BYTES_BUCKET].map(
    kvStream,
  ),
);

/**
 * Throwaway state that describes what the store holds, so is wrong once a
 * restore has changed it: emptied after each restore (with why that is
 * safe), for the API to rebuild. A user whose stored-bytes count is missing
 * is recounted from the store at their next write, rather than counted from 0.
 */
export const CLEARED_ON_RESTORE: ReadonlyMap<string, string> = new Map([
  [kvStream(STORED_BYTES_BUCKET), "each user's stored bytes are recounted from the store at their next write"],
]);

export function isEphemeral(stream: string): boolean {
  return EPHEMERAL_STREAMS.has(stream);
}

/**
 * The stream behind one of the app's KV buckets, as @nats-io/kv's Kvm.create
 * makes it for the options the app passes (history, ttl, max_bytes,
 * replicas): the API binds to it afterwards without changing anything but
 * the settings it manages.
 */
function kvStreamConfig(bucket: {
  name: string;
  options: { history: number; ttl: number; max_bytes: number; replicas: number };
}): Partial<StreamConfig> & { name: string } {
  const { options } = bucket;
  return {
    name: kvStream(bucket.name),
    subjects: [kvSubject(bucket.name, ">")],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_msgs_per_subject: options.history,
    max_bytes: options.max_bytes,
    max_msg_size: -1,
    num_replicas: options.replicas,
    max_age: nanos(options.ttl),
    allow_direct: true,
    allow_rollup_hdrs: true,
  };
}

/** The configuration of every stream a backup holds, for these storage settings, by name. */
export function backedUpStreams(options: StorageOptions): Map<string, Partial<StreamConfig> & { name: string }> {
  // Revocations are kept: a restore must not let a revoked user's tokens back in.
  const buckets = [...chatBuckets(options), revocationsBucket(options.replicas)];
  const configs = [conversationStreamConfig(options), ...buckets.map(kvStreamConfig)].filter(
    (config) => !isEphemeral(config.name),
  );
  return new Map(configs.map((config) => [config.name, config]));
}

/** Names do not depend on the settings. */
const ANY_OPTIONS: StorageOptions = { replicas: 1, leaseTtlMs: 1000, retentionMs: 0, maxBytes: 1024 * 1024 };

/** The streams a backup holds, sorted. */
export const BACKED_UP_STREAMS: readonly string[] = [...backedUpStreams(ANY_OPTIONS).keys()].sort();

/** A stream a manifest may list: one a backup holds, or an ephemeral one older backups hold (never restored). */
export function isKnownStream(name: string): boolean {
  return BACKED_UP_STREAMS.includes(name) || isEphemeral(name);
}

/**
 * The storage settings the running platform gave its conversation log (the
 * API applies the stack's settings to it whenever it starts), which the
 * restored streams get too. leaseTtlMs only sizes the answers' leases
 * bucket, which is never restored. Undefined for a log without a size
 * limit, which the API never makes.
 */
export function storageOptionsOf(
  conversations: Pick<StreamConfig, "num_replicas" | "max_age" | "max_bytes">,
): StorageOptions | undefined {
  if (!(conversations.max_bytes > 0) || !(conversations.num_replicas >= 1)) return undefined;
  return {
    replicas: conversations.num_replicas,
    retentionMs: Math.max(0, Math.round(conversations.max_age / 1_000_000)),
    maxBytes: conversations.max_bytes,
    leaseTtlMs: ANY_OPTIONS.leaseTtlMs,
  };
}
