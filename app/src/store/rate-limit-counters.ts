// Rate-limit counters shared by every API instance, in a JetStream KV bucket:
// one entry per (scope, client) holding its current window, changed only by
// compare-and-set on the entry's revision, so two instances counting the same
// client at once cannot both win. The server here (2.10) has neither counters
// nor per-message TTLs, hence CAS, and the bucket's max age to forget clients.
//
// A check costs one round trip in the usual case: each entry's last revision
// and count are remembered here, and the write is tried with them directly;
// only when another instance wrote in between is the entry read again.
import { createHash } from "node:crypto";
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeWindow, encodeWindow, nextStep, type Verdict, type WindowCount } from "../plugins/rate-limit-window.js";
import { nanos, settingChanges, streamUpdate, type ManagedSettings } from "./storage-config.js";

export const RATE_LIMIT_BUCKET = "rate-limits";
/** A KV bucket is the stream `KV_<bucket>`; its settings are changed there. */
const STREAM = `KV_${RATE_LIMIT_BUCKET}`;
/** The hot path waits at most this long for NATS before using the fallback. */
const TIMEOUT_MS = 1000;
/** Writes lost to other instances before giving up on one request. */
const MAX_ATTEMPTS = 8;
/** Remembered entries; past this the least recently used are forgotten. */
const CACHE_ENTRIES = 10_000;
/**
 * An entry must outlive its window, measured by NATS's clock from its last
 * write while the window was started by an instance's clock: the margin
 * covers the two clocks disagreeing.
 */
const TTL_MARGIN_MS = 5_000;

export interface CounterLimits {
  requests: number;
  windowMs: number;
}

/** Another instance kept winning the compare-and-set: no outage, just a busy key. */
export class CounterContention extends Error {}

/** How long an entry outlives its last write. */
function bucketTtlMs(windowMs: number): number {
  return windowMs + TTL_MARGIN_MS;
}

/**
 * The bucket's stream settings this code relies on, applied to an existing
 * bucket as the chat store's are (storage-config.ts): creating a bucket
 * leaves an existing one as it is, so a new RATE_LIMIT_WINDOW or
 * NATS_STREAM_REPLICAS would otherwise never reach it.
 */
export function bucketSettings(options: { windowMs: number; replicas: number }): ManagedSettings {
  return { max_age: nanos(bucketTtlMs(options.windowMs)), num_replicas: options.replicas, max_bytes: 0 };
}

/** KV keys allow few characters (an IPv6 prefix has ':', a user id anything): a hash fits any key. */
export function counterKey(scope: string, key: string): string {
  return `${scope}.${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

interface Known {
  revision: number;
  window: WindowCount | null;
  /** Another instance wrote this entry last time: read before writing. */
  contended: boolean;
}

interface WaitingHit {
  /** The failure count when it arrived. */
  failures: number;
  resolve: (verdict: Verdict) => void;
  reject: (err: unknown) => void;
}

/**
 * `hits` requests one after the other against a window: each one's verdict,
 * and the window to write (null when none of them changes it).
 */
export function countHits(
  window: WindowCount | null,
  hits: number,
  limits: CounterLimits,
  now = Date.now(),
): { verdicts: Verdict[]; next: WindowCount | null } {
  const verdicts: Verdict[] = [];
  let next: WindowCount | null = null;
  for (let i = 0; i < hits; i++) {
    const step = nextStep(next ?? window, now, limits);
    verdicts.push(step.verdict);
    if (step.write) next = step.next;
  }
  return { verdicts, next };
}

export class SharedCounters {
  private bucket: Promise<KV> | undefined;
  private readonly known = new Map<string, Known>();
  private readonly waiting = new Map<string, WaitingHit[]>();
  /** Bumped on every failure, so requests queued behind it do not each wait for a timeout. */
  private failures = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: CounterLimits & { replicas: number },
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
   * Counts one request of `key` in `scope` and says whether it may pass.
   * Throws when NATS cannot answer, or CounterContention.
   */
  hit(scope: string, key: string): Promise<Verdict> {
    const id = counterKey(scope, key);
    return new Promise<Verdict>((resolve, reject) => {
      const waiting = this.waiting.get(id);
      const hit = { failures: this.failures, resolve, reject };
      if (waiting) {
        waiting.push(hit);
        return;
      }
      this.waiting.set(id, [hit]);
      void this.drain(id);
    });
  }

  /**
   * One client's requests on this instance are counted together: those that
   * arrive while a write is in flight go in the next write, as one increment
   * of their number (a group commit). At once they would only lose the
   * compare-and-set to each other; one after the other they would queue a
   * round trip each.
   */
  private async drain(id: string): Promise<void> {
    for (;;) {
      const hits = this.waiting.get(id)!.splice(0);
      if (hits.length === 0) {
        this.waiting.delete(id);
        return;
      }
      // Those that waited through a failure go to the fallback at once.
      const current = hits.filter((h) => h.failures === this.failures);
      for (const h of hits)
        if (h.failures !== this.failures) h.reject(new Error("NATS failed while this request waited"));
      if (current.length === 0) continue;
      try {
        const verdicts = await this.count(id, current.length);
        current.forEach((h, i) => h.resolve(verdicts[i]!));
      } catch (err) {
        for (const h of current) h.reject(err);
      }
    }
  }

  private async count(id: string, hits: number): Promise<Verdict[]> {
    try {
      return await this.countOnce(id, hits);
    } catch (err) {
      if (!(err instanceof CounterContention)) {
        this.failures++;
        // A bucket lost with NATS's volume is created again on the next try.
        this.bucket = undefined;
      }
      throw err;
    }
  }

  private async countOnce(id: string, hits: number): Promise<Verdict[]> {
    const kv = await this.open();
    const cached = this.known.get(id);
    if (cached?.window) {
      // Within a window a count only rises, so a client at the limit is
      // refused without asking NATS: floods cost it nothing.
      const counted = countHits(cached.window, hits, this.options);
      if (!counted.next) return counted.verdicts;
    }
    let current = cached;
    let contended = false;
    if (cached?.contended) {
      current = await read(kv, id);
      contended = current.revision !== cached.revision;
    }
    for (let attempt = 1; ; attempt++) {
      const counted = countHits(current?.window ?? null, hits, this.options);
      if (!counted.next) {
        if (current) this.remember(id, { ...current, contended });
        return counted.verdicts;
      }
      try {
        // put with the expected revision is kv.update, and with 0 kv.create,
        // minus the extra read kv.create makes on a conflict.
        const revision = await kv.put(id, encodeWindow(counted.next), { previousSeq: current?.revision ?? 0 });
        this.remember(id, { revision, window: counted.next, contended });
        return counted.verdicts;
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt === MAX_ATTEMPTS) throw new CounterContention(`${id}: lost ${attempt} compare-and-sets in a row`);
        contended = true;
        current = await read(kv, id);
      }
    }
  }

  private remember(id: string, known: Known) {
    // A Map iterates in insertion order: re-inserting keeps the most recent last.
    this.known.delete(id);
    this.known.set(id, known);
    if (this.known.size > CACHE_ENTRIES) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }
}

async function openBucket(nc: NatsConnection, options: { windowMs: number; replicas: number }): Promise<KV> {
  const js = jetstream(nc, { timeout: TIMEOUT_MS });
  const wanted = bucketSettings(options);
  const kv = await new Kvm(js).create(RATE_LIMIT_BUCKET, {
    history: 1,
    ttl: bucketTtlMs(options.windowMs),
    replicas: options.replicas,
    // Counters survive a NATS restart too, or a deploy of NATS would reset them.
    storage: StorageType.File,
  });
  const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS, checkAPI: false });
  const { config } = await jsm.streams.info(STREAM);
  if (settingChanges(config, wanted).length > 0) await jsm.streams.update(STREAM, streamUpdate(config, wanted));
  return kv;
}

async function read(kv: KV, id: string): Promise<Known> {
  const entry = await kv.get(id);
  if (!entry) return { revision: 0, window: null, contended: false };
  return {
    revision: entry.revision,
    window: entry.operation === "PUT" ? decodeWindow(entry.string()) : null,
    contended: false,
  };
}

function isConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
