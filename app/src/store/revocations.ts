// Revoked users, shared by every API instance through a JetStream KV bucket:
// `npm run ops -- revoke USER` writes the time up to which that user's
// tokens are refused (by their `iat`), and every instance watches the
// bucket, so a revocation reaches each connected instance as NATS delivers
// it (milliseconds). A token lives at most JWT_MAX_LIFETIME, and at most
// REVOCATION_KEPT_MS: an entry older than that refuses nothing that could
// still be valid, so the bucket forgets it by itself.
import { jetstream, StorageType } from "@nats-io/jetstream";
import { KvWatchInclude, Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ownerKey } from "./subjects.js";

export const REVOCATIONS_BUCKET = "revocations";
/** How long a revocation is kept: longer than the longest JWT_MAX_LIFETIME the API accepts (30 days). */
export const REVOCATION_KEPT_MS = 31 * 24 * 3600 * 1000;

const TIMEOUT_MS = 5000;

/**
 * The bucket as the API and ops make it (and a restore rebuilds it): one
 * entry per user, forgotten after REVOCATION_KEPT_MS, no size limit (a few
 * bytes a revoked user).
 */
export function revocationsBucket(replicas: number) {
  return { name: REVOCATIONS_BUCKET, options: { history: 1, ttl: REVOCATION_KEPT_MS, max_bytes: -1, replicas } };
}

/** Whether a token issued at `iat` (seconds) is refused by a revocation up to `revokedUpTo` (seconds). */
export function isRevoked(iat: number | undefined, revokedUpTo: number | undefined): boolean {
  if (revokedUpTo === undefined) return false;
  // A token without `iat` cannot show it came after the revocation.
  return iat === undefined || iat <= revokedUpTo;
}

/** The time a revocation made at `nowMs` refuses tokens up to: every token issued in that second or before. */
export function revocationTime(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

async function openBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  const { name, options } = revocationsBucket(replicas);
  return new Kvm(jetstream(nc, { timeout: TIMEOUT_MS })).create(name, { ...options, storage: StorageType.File });
}

/** Refuses every token of `subject` issued up to now (the ops command's side). Returns that time, in seconds. */
export async function revokeUser(nc: NatsConnection, subject: string, nowMs = Date.now(), replicas = 1) {
  const upTo = revocationTime(nowMs);
  const kv = await openBucket(nc, replicas);
  await kv.put(ownerKey(subject), String(upTo));
  return upTo;
}

/** The API's side: every revocation, kept current by a watch on the bucket. */
export class RevocationList {
  private readonly upTo = new Map<string, number>();

  private constructor(private readonly log: Logger) {}

  /** Loaded whole before it resolves; then follows the bucket until the connection closes. */
  static async open(nc: NatsConnection, replicas: number, log: Logger): Promise<RevocationList> {
    const list = new RevocationList(log);
    const kv = await openBucket(nc, replicas);
    // The watch first, then what is there: a revocation written in between
    // arrives either way, and applying one twice changes nothing.
    const updates = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of updates) list.apply(entry.key, entry.operation === "PUT" ? entry.string() : "");
    })().catch((err: unknown) => log.error({ err }, "the revocation watch ended"));
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry?.operation === "PUT") list.apply(key, entry.string());
    }
    return list;
  }

  /** Up to when `subject`'s tokens are refused (seconds), if they are. */
  revokedUpTo(subject: string): number | undefined {
    return this.upTo.get(ownerKey(subject));
  }

  private apply(key: string, value: string): void {
    const upTo = Number(value);
    if (!Number.isFinite(upTo)) {
      this.log.warn({ key }, "ignored a revocation that is not a time");
      return;
    }
    // Only ever later: a revocation is never undone by an older one arriving late.
    this.upTo.set(key, Math.max(upTo, this.upTo.get(key) ?? 0));
    this.log.info({ key, upTo }, "tokens revoked");
  }
}
