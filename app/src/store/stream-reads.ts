// Reading what a stream holds now through one short-lived ordered consumer:
// the chat store's lists, its pages and the storage quota's size scans all
// read this way.
import type { JetStreamClient, JsMsg, OrderedConsumerOptions } from "@nats-io/jetstream";

/** Messages fetched at once. */
const FETCH_MAX = 1000;
/**
 * Each fetch has a deadline: messages purged between the count and their
 * delivery must not leave the read waiting for ever.
 */
const FETCH_EXPIRES_MS = 2000;

/** Hands every message a filter matches now to `visit`, without keeping them. */
export async function scanStream(
  js: JetStreamClient,
  stream: string,
  config: Partial<OrderedConsumerOptions>,
  visit: (m: JsMsg) => void,
): Promise<void> {
  const consumer = await js.consumers.get(stream, config);
  try {
    let pending = (await consumer.info(true)).num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, FETCH_MAX), expires: FETCH_EXPIRES_MS });
      let got = 0;
      for await (const m of batch) {
        visit(m);
        got++;
        pending = m.info.pending;
      }
      if (got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

/** Every message a filter matches now, in stream order. */
export async function readStream(
  js: JetStreamClient,
  stream: string,
  config: Partial<OrderedConsumerOptions>,
): Promise<JsMsg[]> {
  const messages: JsMsg[] = [];
  await scanStream(js, stream, config, (m) => void messages.push(m));
  return messages;
}
