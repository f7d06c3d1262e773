// How a NATS KV bucket is laid out on JetStream, for the reads and writes the
// KV client cannot do: a bucket is the stream KV_<bucket>, a key is the
// subject $KV.<bucket>.<key>, a delete or purge leaves a marker message with
// a KV-Operation header, and a write that compares revisions (a KV
// `previousSeq`, a stream's `lastSubjectSequence`) loses with one of two
// JetStream error codes. Every store module that goes below the KV client
// goes through here, so a change in that layout is made in one place.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

/** The stream holding a bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject holding a key (or, with wildcards in `key`, the keys it matches). */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}

/** Whether a message of a bucket's stream is a delete's or a purge's marker, not a value. */
export function isKvMarker(headers: { get(name: string): string } | undefined): boolean {
  return Boolean(headers?.get("KV-Operation"));
}

/**
 * Removes a key's every revision. Unlike a KV delete or purge, no marker is
 * left behind: a bucket of short-lived keys does not fill up with them.
 */
export async function removeKey(jsm: JetStreamManager, bucket: string, key: string): Promise<void> {
  await jsm.streams.purge(kvStream(bucket), { filter: kvSubject(bucket, key) });
}

/** A compare-and-set that lost: the key (or subject) holds another revision than the one expected. */
export function isCasConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
