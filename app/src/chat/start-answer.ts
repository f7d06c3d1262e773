// Starting an answer to a user's message: the rules a POST of a message
// follows before its answer streams. In one round of requests it finds the
// conversation, reads its context and leases one of the user's answer slots
// (the lease also tells a resume arriving before the first token that the
// answer is alive); then it admits the message against the user's quotas,
// stores it, and starts the answer's generation. Whatever fails on the way
// gives back what was taken (the lease, the quotas' share), so a refused or
// failed message leaves nothing behind. What is refused is returned, for
// the route to say in HTTP; the quotas' refusals (QuotaRefused) and store
// failures (StoreError) are thrown.
import { randomUUID } from "node:crypto";
import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { ChatTurn } from "../providers/types.js";
import type { AnswerLease } from "../store/answer-slots.js";
import type { ConversationRecord, UserMessageRecord } from "../store/records.js";
import type { ChatDeps } from "./chat-deps.js";
import { estimateTokens, modelContext } from "./context.js";
import type { Generation } from "./generation.js";
import { foldLog } from "./history.js";
import { admitMessage, giveBack, QuotaRefused, settleAnswer, type Admission } from "./message-quotas.js";

/** A conversation's last activity is recorded at most this often (after its first message). */
const TOUCH_INTERVAL_MS = 60_000;

export interface AnswerRequest {
  owner: string;
  conversationId: string;
  content: string;
  /** Unset: the configured model. */
  model?: string;
  /** The request's span, so the model call shows inside it in a trace. */
  parentSpan?: Span;
  log: Pick<Logger, "warn">;
}

export type StartRefusal =
  | { refused: "blank" }
  /** The message alone is over the context budget (tokens estimated, 4 characters a token). */
  | { refused: "over_context_budget"; tokens: number; maxTokens: number }
  | { refused: "model_not_allowed"; model: string; allowed: readonly string[] }
  | { refused: "no_such_conversation" }
  /** Every one of the user's answer slots is leased. */
  | { refused: "too_many_answers"; limit: number };

export interface StartedAnswer {
  refused?: undefined;
  conversationId: string;
  replyId: string;
  generation: Generation;
}

export async function startAnswer(
  deps: ChatDeps,
  request: AnswerRequest,
  startedAt = Date.now(),
): Promise<StartedAnswer | StartRefusal> {
  const { config, store, metrics } = deps;
  const { owner, content } = request;
  if (content.trim() === "") return { refused: "blank" };
  // Refused rather than older turns cut short: the model would be sent an
  // empty or truncated question, and the client can act on a clear refusal.
  const tokens = estimateTokens(content);
  if (tokens > config.contextMaxTokens)
    return { refused: "over_context_budget", tokens, maxTokens: config.contextMaxTokens };
  const model = request.model ?? config.model;
  if (!config.allowedModels.includes(model))
    return { refused: "model_not_allowed", model, allowed: config.allowedModels };
  const messageId = randomUUID();
  const replyId = randomUUID();

  const leasing = store.slots.acquire(owner, replyId, config.instanceId, config.maxActiveAnswersPerUser);
  let lease: AnswerLease | null = null;
  let admission: Admission | undefined;
  let conversation: ConversationRecord;
  let messages: ChatTurn[];
  let contextRevision: number;
  try {
    // The context is read alongside, and used only once the conversation is found to be this user's.
    const [found, stored, leased] = await Promise.all([
      store.findConversation(owner, request.conversationId),
      store.contexts.get(request.conversationId),
      leasing,
    ]);
    lease = leased;
    if (!found) {
      await releaseLease();
      return { refused: "no_such_conversation" };
    }
    conversation = found.record;
    if (!lease) {
      metrics.rateLimited.inc({ scope: "answers" });
      return { refused: "too_many_answers", limit: config.maxActiveAnswersPerUser };
    }
    contextRevision = stored?.revision ?? 0;
    const context = stored?.turns ?? (neverSentTo(conversation) ? [] : await contextFromLog(deps, conversation.id));
    const at = new Date(startedAt).toISOString();
    const record: UserMessageRecord = {
      kind: "user",
      id: messageId,
      replyId,
      content,
      model,
      provider: deps.provider.name,
      createdAt: at,
    };
    messages = modelContext([...context, { role: "user", content }], {
      maxMessages: config.historyMaxMessages,
      maxTokens: config.contextMaxTokens,
    });
    admission = await admitMessage(deps, owner, {
      messages,
      maxOutputTokens: config.maxOutputTokens,
      record,
      conversationId: conversation.id,
    }).catch((err: unknown) => {
      if (err instanceof QuotaRefused && err.refusal.kind === "token_budget")
        metrics.rateLimited.inc({ scope: "tokens" });
      throw err;
    });
    await store.appendUserMessage(conversation.id, record);
    // Best effort, not awaited: the message is stored, and a missed touch only ages the list's order.
    if (touchNow(conversation, startedAt)) {
      store
        .touchConversation(owner, conversation, found.revision, at)
        .catch((err: unknown) => request.log.warn({ err }, "could not record the conversation's activity"));
    }
  } catch (err) {
    await releaseLease();
    if (admission) await giveBack(deps, admission);
    throw err;
  }

  const generation = deps.generations.start({
    owner,
    lease,
    conversationId: conversation.id,
    replyId,
    model,
    messages,
    contextRevision,
    startedAt,
    parentSpan: request.parentSpan,
    onEnded: settleAnswer(deps, admission, conversation.id),
  });
  return { conversationId: conversation.id, replyId, generation };

  /** The lease may have been taken even when another request of the round failed. */
  async function releaseLease() {
    const taken = lease ?? (await leasing.catch(() => null));
    if (taken) await store.slots.release(taken).catch(() => undefined);
  }
}

/**
 * A conversation's last activity is recorded with its first message and then
 * at most once a minute: enough to order the list and to keep it from
 * expiring, without a write per message.
 */
function touchNow(conversation: ConversationRecord, now: number): boolean {
  if (conversation.updatedAt === undefined || neverSentTo(conversation)) return true;
  return !(now - Date.parse(conversation.updatedAt) < TOUCH_INTERVAL_MS);
}

/**
 * Created by this release and never sent a message (the first message moves
 * `updatedAt`): nothing to read for a context. A record of an earlier release
 * has no `updatedAt`.
 */
function neverSentTo(conversation: ConversationRecord): boolean {
  return conversation.updatedAt !== undefined && conversation.updatedAt === conversation.createdAt;
}

/**
 * The context of a conversation without a stored one: written before
 * contexts were kept, or whose answer never ended (its instance died).
 */
async function contextFromLog(deps: ChatDeps, conversationId: string) {
  // Only the turns a context can hold are read: a long conversation's whole log would not fit in memory.
  return foldLog(await deps.store.pages.recentTurns(conversationId, deps.config.historyMaxMessages));
}
