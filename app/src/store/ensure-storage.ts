// Creates the chat store's streams and buckets where missing and brings
// existing ones to the settings decided in storage-config.ts.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  totalReservedBytes,
  chatBuckets,
  conversationStreamConfig,
  settingChanges,
  streamUpdate,
  type ManagedSettings,
  type StorageOptions,
} from "./storage-config.js";
import { kvStream } from "./kv-internals.js";
import { ANSWER_LEASES_BUCKET, CONTEXTS_BUCKET, CONVERSATIONS_BUCKET } from "./subjects.js";

export interface Storage {
  conversations: KV;
  contexts: KV;
  answerLeases: KV;
}

export async function ensureStorage(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: StorageOptions,
  log?: Logger,
): Promise<Storage> {
  const apply = async (name: string, wanted: ManagedSettings) => {
    const info = await jsm.streams.info(name);
    const changes = settingChanges(info.config, wanted);
    if (changes.length === 0) return;
    await jsm.streams.update(name, streamUpdate(info.config, wanted));
    log?.info({ stream: name, changes }, "applied changed storage settings");
  };
  const logStream = conversationStreamConfig(options);
  await explainReservation(logStream.name, options, async () => {
    if (await streamExists(jsm, logStream.name)) await apply(logStream.name, logStream);
    else await jsm.streams.add(logStream);
  });
  const kvm = new Kvm(js);
  const buckets: Record<string, KV> = {};
  for (const bucket of chatBuckets(options)) {
    await explainReservation(kvStream(bucket.name), options, async () => {
      // Kvm.create binds to an existing bucket without touching its settings.
      buckets[bucket.name] = await kvm.create(bucket.name, bucket.options);
      await apply(kvStream(bucket.name), bucket.settings);
    });
  }
  return {
    conversations: buckets[CONVERSATIONS_BUCKET]!,
    contexts: buckets[CONTEXTS_BUCKET]!,
    answerLeases: buckets[ANSWER_LEASES_BUCKET]!,
  };
}

/**
 * JetStream reserves every stream's max_bytes out of the server's
 * max_file_store up front; a size that does not fit is refused with
 * "insufficient storage resources". Says which setting to change.
 */
async function explainReservation(stream: string, options: StorageOptions, work: () => Promise<void>) {
  try {
    await work();
  } catch (err) {
    if (err instanceof Error && /insufficient (storage )?resources/i.test(err.message)) {
      const total = totalReservedBytes(options);
      throw new Error(
        `NATS refused to reserve storage for ${stream}: CHAT_MAX_BYTES (${options.maxBytes} bytes) and its buckets need ${total} bytes of the server's max_file_store; lower CHAT_MAX_BYTES or raise max_file_store in nats-server.conf`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function streamExists(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    await jsm.streams.info(name);
    return true;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return false;
    throw err;
  }
}
