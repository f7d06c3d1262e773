// Counters shared by every API instance, in a JetStream KV bucket: one entry
// per key, changed only by compare-and-set on the entry's revision, so two
// instances changing the same entry at once cannot both win. The server here
// (2.10) has neither counters nor per-message TTLs, hence CAS, and a bucket's
// max age to forget idle entries. What an entry holds and what a change does
// to it is a policy (a pure function): request windows (rate-limit-counters.ts),
// token budgets (token-budget-counters.ts), stored bytes (stored-bytes-counters.ts).
//
// A change costs one round trip in the usual case: each entry's last revision
// and value are remembered here, and the write is tried with them directly;
// only when another instance wrote in between is the entry read again.
import { createHash } from "node:crypto";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos, settingChanges, streamUpdate, type ManagedSettings } from "./storage-config.js";
import { isCasConflict, kvStream } from "./kv-internals.js";
import { classifyStoreError, StoreError } from "./store-errors.js";

/** The hot path waits at most this long for NATS before giving up. */
const TIMEOUT_MS = 1000;
/** Writes lost to other instances before giving up on one change. */
const MAX_ATTEMPTS = 8;
/** Remembered entries; past this the least recently used are forgotten. */
const CACHE_ENTRIES = 10_000;

/**
 * What the entries of one bucket hold and how changes apply to them. Every
 * change that reaches one entry while a write to it is in flight is applied
 * in the next write, in arrival order.
 */
export interface CounterPolicy<Entry, Change, Result> {
  /** Each change's result, and the entry to write (null: none of them changes it). */
  apply(current: Entry | null, changes: readonly Change[], now: number): { results: Result[]; next: Entry | null };
  /** The stored form: small, and readable with `nats kv get`. */
  encode(entry: Entry): string;
  /** Null for anything this code did not write: the entry then starts over. */
  decode(text: string): Entry | null;
  /**
   * True when an entry only moves towards refusing until it starts over (a
   * request count): a change the remembered entry already refuses is then
   * refused without asking NATS, so floods cost nothing. False when other
   * instances may give room back (a refund, a delete).
   */
  refusesFromMemory: boolean;
}

export interface BucketOptions {
  name: string;
  /** How long an entry outlives its last write; 0 keeps entries. */
  ttlMs: number;
  replicas: number;
}

/** Another instance kept winning the compare-and-set: no outage, just a busy key. */
export class CounterContention extends Error {}

/**
 * The bucket's stream settings this code relies on, applied to an existing
 * bucket as the chat store's are (storage-config.ts): creating a bucket
 * leaves an existing one as it is, so a new window or replica count would
 * otherwise never reach it.
 */
export function counterBucketSettings(options: { ttlMs: number; replicas: number }): ManagedSettings {
  return { max_age: nanos(options.ttlMs), num_replicas: options.replicas, max_bytes: 0 };
}

/** KV keys allow few characters (an IPv6 prefix has ':', a user id anything): a hash fits any key. */
export function counterKey(scope: string, key: string): string {
  return `${scope}.${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

interface Known<Entry> {
  revision: number;
  entry: Entry | null;
  /** Another instance wrote this entry last time: read before writing. */
  contended: boolean;
}

interface Waiting<Change, Result> {
  change: Change;
  /** The failure count when it arrived. */
  failures: number;
  resolve: (result: Result) => void;
  reject: (err: unknown) => void;
}

export class SharedCounters<Entry, Change, Result> {
  private bucket: Promise<KV> | undefined;
  private readonly known = new Map<string, Known<Entry>>();
  private readonly waiting = new Map<string, Array<Waiting<Change, Result>>>();
  /** Bumped on every failure, so changes queued behind it do not each wait for a timeout. */
  private failures = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: BucketOptions,
    private readonly policy: CounterPolicy<Entry, Change, Result>,
  ) {}

  /** Creates the bucket or brings its settings up to date; shared by concurrent callers. */
  open(): Promise<KV> {
    this.bucket ??= openBucket(this.nc, this.options).catch((err: unknown) => {
      this.bucket = undefined;
      throw err;
    });
    return this.bucket;
  }

  /**
   * Applies one change to the entry `id` (a counterKey) and returns its
   * result. Throws when NATS cannot answer, or CounterContention.
   */
  apply(id: string, change: Change): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const waiting = this.waiting.get(id);
      const item = { change, failures: this.failures, resolve, reject };
      if (waiting) {
        waiting.push(item);
        return;
      }
      this.waiting.set(id, [item]);
      void this.drain(id);
    });
  }

  /**
   * One entry's changes on this instance are written together: those that
   * arrive while a write is in flight go in the next write (a group commit).
   * At once they would only lose the compare-and-set to each other; one
   * after the other they would queue a round trip each.
   */
  private async drain(id: string): Promise<void> {
    for (;;) {
      const items = this.waiting.get(id)!.splice(0);
      if (items.length === 0) {
        this.waiting.delete(id);
        return;
      }
      // Those that waited through a failure are refused at once.
      const current = items.filter((h) => h.failures === this.failures);
      for (const h of items)
        if (h.failures !== this.failures) h.reject(new Error("NATS failed while this change waited"));
      if (current.length === 0) continue;
      try {
        const results = await this.write(
          id,
          current.map((h) => h.change),
        );
        current.forEach((h, i) => h.resolve(results[i]!));
      } catch (err) {
        for (const h of current) h.reject(err);
      }
    }
  }

  private async write(id: string, changes: Change[]): Promise<Result[]> {
    try {
      return await this.writeOnce(id, changes);
    } catch (err) {
      if (!(err instanceof CounterContention)) {
        this.failures++;
        // A bucket lost with NATS's volume is created again on the next try.
        this.bucket = undefined;
      }
      throw err;
    }
  }

  private async writeOnce(id: string, changes: Change[]): Promise<Result[]> {
    const kv = await this.open();
    const now = Date.now();
    const cached = this.known.get(id);
    if (this.policy.refusesFromMemory && cached?.entry) {
      const applied = this.policy.apply(cached.entry, changes, now);
      if (!applied.next) return applied.results;
    }
    let current = cached;
    let fresh = false;
    let contended = false;
    if (cached?.contended) {
      current = await readEntry(kv, id, this.policy);
      fresh = true;
      contended = current.revision !== cached.revision;
    }
    for (let attempt = 1; ; attempt++) {
      const applied = this.policy.apply(current?.entry ?? null, changes, now);
      if (!applied.next) {
        // A write from memory is checked by its compare-and-set; a decision
        // to write nothing is not, so where others may have given room back
        // it is only taken on what NATS holds now.
        if (!fresh && !this.policy.refusesFromMemory) {
          current = await readEntry(kv, id, this.policy);
          fresh = true;
          continue;
        }
        if (current) this.remember(id, { ...current, contended });
        return applied.results;
      }
      try {
        // put with the expected revision is kv.update, and with 0 kv.create,
        // minus the extra read kv.create makes on a conflict.
        const revision = await kv.put(id, this.policy.encode(applied.next), { previousSeq: current?.revision ?? 0 });
        this.remember(id, { revision, entry: applied.next, contended });
        return applied.results;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
        if (attempt === MAX_ATTEMPTS) throw new CounterContention(`${id}: lost ${attempt} compare-and-sets in a row`);
        contended = true;
        current = await readEntry(kv, id, this.policy);
        fresh = true;
      }
    }
  }

  private remember(id: string, known: Known<Entry>) {
    // A Map iterates in insertion order: re-inserting keeps the most recent last.
    this.known.delete(id);
    this.known.set(id, known);
    if (this.known.size > CACHE_ENTRIES) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }
}

async function openBucket(nc: NatsConnection, options: BucketOptions): Promise<KV> {
  const js = jetstream(nc, { timeout: TIMEOUT_MS });
  const wanted = counterBucketSettings(options);
  const kv = await new Kvm(js).create(options.name, {
    history: 1,
    ttl: options.ttlMs,
    replicas: options.replicas,
    // Counters survive a NATS restart too, or a deploy of NATS would reset them.
    storage: StorageType.File,
  });
  const stream = kvStream(options.name);
  const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS, checkAPI: false });
  const { config } = await jsm.streams.info(stream);
  if (settingChanges(config, wanted).length > 0) await jsm.streams.update(stream, streamUpdate(config, wanted));
  return kv;
}

async function readEntry<Entry>(
  kv: KV,
  id: string,
  policy: Pick<CounterPolicy<Entry, unknown, unknown>, "decode">,
): Promise<Known<Entry>> {
  const entry = await kv.get(id);
  if (!entry) return { revision: 0, entry: null, contended: false };
  return {
    revision: entry.revision,
    entry: entry.operation === "PUT" ? policy.decode(entry.string()) : null,
    contended: false,
  };
}

/**
 * SharedCounters.apply for a counter a request cannot go on without (a
 * quota): every failure is a StoreError, a 503 for clients, a busy key too.
 */
export async function applyOrUnavailable<Entry, Change, Result>(
  counters: SharedCounters<Entry, Change, Result>,
  id: string,
  change: Change,
): Promise<Result> {
  try {
    return await counters.apply(id, change);
  } catch (err) {
    if (err instanceof CounterContention) throw new StoreError("unavailable", err);
    throw classifyStoreError(err) ?? err;
  }
}
