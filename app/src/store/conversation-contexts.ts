// Each conversation's context for the model, in the KV bucket
// `conversation-contexts`: the turns last sent with their answer, so the
// next message need not read the log. Only a copy: whenever it cannot be
// trusted it goes, and the next message rebuilds it from the log.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ChatTurn } from "../providers/types.js";
import { fitInBytes } from "./context-size.js";
import { isCasConflict, removeKey } from "./kv-internals.js";
import { guard } from "./store-errors.js";
import { CONTEXTS_BUCKET, keys } from "./subjects.js";

/** A context is one NATS message: under the 1 MB max_payload, JSON included. */
const MAX_CONTEXT_BYTES = 900 * 1024;

export interface StoredContext {
  turns: ChatTurn[];
  revision: number;
}

export class ConversationContexts {
  constructor(
    /** The bucket as the store has it now (it opens it again after NATS lost it). */
    private readonly bucket: () => KV,
    private readonly jsm: JetStreamManager,
  ) {}

  /** The turns last sent to the model with their answer, and the entry's revision; null if none were kept. */
  get(conversationId: string): Promise<StoredContext | null> {
    return guard(async () => {
      const entry = await this.bucket().get(keys.context(conversationId));
      return entry && entry.operation === "PUT"
        ? { turns: entry.json<{ turns: ChatTurn[] }>().turns, revision: entry.revision }
        : null;
    });
  }

  /**
   * Replaces the context read at `revision` (0: there was none). When
   * another answer replaced it meanwhile, or it cannot be stored, the entry
   * goes: the next message then rebuilds it from the log, rather than
   * answering from a context that misses an exchange.
   */
  put(conversationId: string, turns: ChatTurn[], revision: number): Promise<boolean> {
    return guard(async () => {
      const key = keys.context(conversationId);
      try {
        await this.bucket().put(key, JSON.stringify({ turns: fitInBytes(turns, MAX_CONTEXT_BYTES) }), {
          previousSeq: revision,
        });
        return true;
      } catch (err) {
        await this.forget(conversationId).catch(() => undefined);
        if (isCasConflict(err)) return false;
        throw err;
      }
    });
  }

  /** Drops a conversation's stored context: the next message rebuilds it from the log. */
  forget(conversationId: string): Promise<void> {
    return guard(() => removeKey(this.jsm, CONTEXTS_BUCKET, keys.context(conversationId)));
  }
}
