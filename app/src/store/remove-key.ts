import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * Removes a KV key's every revision. Unlike a KV delete or purge, no marker
 * is left behind: a bucket of short-lived keys does not fill up with them.
 */
export async function removeKey(jsm: JetStreamManager, bucket: string, key: string): Promise<void> {
  await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${key}` });
}
