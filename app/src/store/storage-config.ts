// The settings of every stream and bucket the chat store uses, decided from
// the API's config. Applied when the API starts (and after NATS comes back):
// a stream that exists with other settings is updated, so a changed
// retention, size, lease or replica count reaches a running store.
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { ANSWER_LEASES_BUCKET, CONTEXTS_BUCKET, CONVERSATIONS_BUCKET, CONVERSATIONS_STREAM } from "./subjects.js";

export interface StorageOptions {
  replicas: number;
  /** How long an answer's lease lasts unrenewed (GENERATION_LEASE): a generator silent that long counts as dead. */
  leaseTtlMs: number;
  /** Age after which records are removed; 0 keeps them. */
  retentionMs: number;
  /** Bytes for the conversation log; the buckets get shares of it. */
  maxBytes: number;
}

/** The settings this code compares and updates on a stream. */
export type ManagedSettings = Pick<StreamConfig, "num_replicas" | "max_age" | "max_bytes">;
type StreamSettings = Partial<StreamConfig> & ManagedSettings & { name: string };

const MIB = 1024 * 1024;
const ANSWER_LEASES_BYTES = 64 * MIB;
/** JetStream counts durations in nanoseconds. */
export const nanos = (ms: number) => ms * 1_000_000;

/** Conversation records are small: a thirty-second of the log's size is plenty. */
export const conversationsBucketShare = 1 / 32;
/**
 * Contexts are copies of recent turns, one per conversation: as large as
 * the whole conversation while it is shorter than CONTEXT_MAX_TOKENS. When
 * the bucket is full anyway, a context that cannot be stored is dropped and
 * the next message reads the log instead.
 */
export const contextsBucketShare = 1 / 2;

export function conversationStreamConfig(o: StorageOptions): StreamSettings {
  return {
    name: CONVERSATIONS_STREAM,
    subjects: ["conv.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // A full store refuses new writes (a clear 503) rather than silently
    // dropping the oldest conversations.
    discard: DiscardPolicy.New,
    num_replicas: o.replicas,
    max_age: nanos(o.retentionMs),
    max_bytes: o.maxBytes,
    // Retries of a publish within this window are dropped by message id
    // (never longer than the max age, which JetStream refuses).
    duplicate_window: o.retentionMs > 0 ? nanos(Math.min(2 * 60_000, o.retentionMs)) : nanos(2 * 60_000),
  };
}

/** The chat store's KV buckets: each one's name, KV options and the stream settings it must end up with. */
export function chatBuckets(o: StorageOptions) {
  const bucket = (name: string, share: number) => {
    const maxBytes = Math.max(MIB, Math.floor(o.maxBytes * share));
    return {
      name,
      options: { replicas: o.replicas, history: 1, ttl: o.retentionMs, max_bytes: maxBytes },
      settings: { num_replicas: o.replicas, max_age: nanos(o.retentionMs), max_bytes: maxBytes } as ManagedSettings,
    };
  };
  // Answers' leases: one key per slot a user may fill, held by its answer's
  // generator for leaseTtlMs (GENERATION_LEASE) and renewed while it runs. File storage: an answer in progress must still look alive
  // after a NATS restart, or readers would end it as interrupted.
  const answerLeases = {
    name: ANSWER_LEASES_BUCKET,
    options: { replicas: o.replicas, history: 1, ttl: o.leaseTtlMs, max_bytes: ANSWER_LEASES_BYTES },
    settings: {
      num_replicas: o.replicas,
      max_age: nanos(o.leaseTtlMs),
      max_bytes: ANSWER_LEASES_BYTES,
    } as ManagedSettings,
  };
  return [
    bucket(CONVERSATIONS_BUCKET, conversationsBucketShare),
    bucket(CONTEXTS_BUCKET, contextsBucketShare),
    answerLeases,
  ];
}

/** Bytes JetStream reserves for the log, the buckets and the answers' leases. */
export function totalReservedBytes(o: StorageOptions): number {
  const buckets = chatBuckets(o).map((b) => b.settings.max_bytes);
  return buckets.reduce((sum, n) => sum + n, conversationStreamConfig(o).max_bytes);
}

export interface SettingChange {
  setting: keyof ManagedSettings;
  from: number;
  to: number;
}

/**
 * The update that brings a stream to `wanted`. JetStream refuses a duplicate
 * window longer than the max age (a bucket's was set to min(2 min, ttl) when
 * it was made): it shrinks with a shorter max age.
 */
export function streamUpdate(current: StreamConfig, wanted: ManagedSettings): StreamConfig {
  const maxAge = wanted.max_age;
  const duplicateWindow = maxAge > 0 ? Math.min(current.duplicate_window, maxAge) : current.duplicate_window;
  return { ...current, ...wanted, duplicate_window: duplicateWindow };
}

/** What differs between a stream's settings and the wanted ones. */
export function settingChanges(current: Partial<StreamConfig>, wanted: ManagedSettings): SettingChange[] {
  const changes: SettingChange[] = [];
  for (const setting of ["num_replicas", "max_age", "max_bytes"] as const) {
    // The server reports "no limit" as 0 or -1 depending on the setting.
    const from = normalize(current[setting]);
    const to = normalize(wanted[setting]);
    if (from !== to) changes.push({ setting, from, to });
  }
  return changes;
}

function normalize(value: number | undefined): number {
  return value === undefined || value < 0 ? 0 : value;
}
