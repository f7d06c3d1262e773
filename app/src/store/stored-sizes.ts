// What a user's conversations take in the store, for the storage quota: the
// sizes of their records and logs, read from message headers only (JetStream
// sends each message's size, not its body).
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { recordBytes } from "../chat/storage-quota.js";
import { isKvMarker, kvStream, kvSubject } from "./kv-internals.js";
import { guard } from "./store-errors.js";
import { scanStream } from "./stream-reads.js";
import { CONVERSATIONS_BUCKET, CONVERSATIONS_STREAM, isId, keys, subjects } from "./subjects.js";

/** Conversations whose log sizes one headers-only consumer reads. */
const SIZE_SCAN_GROUP = 64;

export interface RecordSize {
  id: string;
  subject: string;
  /** The record's payload, in bytes. */
  size: number;
}

export class StoredSizes {
  constructor(private readonly js: JetStreamClient) {}

  /** The subject a conversation's record is stored under. */
  recordSubject(owner: string, id: string): string {
    return kvSubject(CONVERSATIONS_BUCKET, keys.conversation(owner, id));
  }

  /** Every conversation of this owner with the size of its record. */
  records(owner: string): Promise<RecordSize[]> {
    return guard(async () => {
      const found: RecordSize[] = [];
      await scanStream(
        this.js,
        kvStream(CONVERSATIONS_BUCKET),
        {
          filter_subjects: [kvSubject(CONVERSATIONS_BUCKET, keys.conversationsOf(owner))],
          deliver_policy: DeliverPolicy.LastPerSubject,
          headers_only: true,
        },
        (m) => {
          // A delete's marker holds nothing.
          if (isKvMarker(m.headers)) return;
          const id = m.subject.split(".").at(-1)!;
          if (isId(id)) found.push({ id, subject: m.subject, size: Number(m.headers?.get("Nats-Msg-Size") ?? 0) });
        },
      );
      return found;
    });
  }

  /**
   * The bytes (payload and subject) of what conversations keep in the log:
   * users' messages and ended answers; not the event batches of answers in
   * progress, which their record replaces. A few conversations per consumer.
   */
  logs(conversationIds: readonly string[]): Promise<Map<string, number>> {
    return guard(async () => {
      const sizes = new Map<string, number>(conversationIds.map((id) => [id, 0]));
      for (let i = 0; i < conversationIds.length; i += SIZE_SCAN_GROUP) {
        const group = conversationIds.slice(i, i + SIZE_SCAN_GROUP);
        await scanStream(
          this.js,
          CONVERSATIONS_STREAM,
          {
            filter_subjects: group.map((id) => subjects.conversation(id)),
            deliver_policy: DeliverPolicy.All,
            headers_only: true,
          },
          (m) => {
            const [, id, kind] = m.subject.split(".");
            if (kind === "live" || !id || !sizes.has(id)) return;
            sizes.set(id, sizes.get(id)! + recordBytes(m.subject, Number(m.headers?.get("Nats-Msg-Size") ?? 0)));
          },
        );
      }
      return sizes;
    });
  }
}
