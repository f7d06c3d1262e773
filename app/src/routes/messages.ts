import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { AppDeps } from "../app.js";
import { estimateTokens, modelContext } from "../chat/context.js";
import { openEventStream } from "../chat/event-stream.js";
import { foldLog } from "../chat/history.js";
import { admitMessage, giveBack, settleAnswer, type Admission } from "../chat/message-quotas.js";
import { ReplyCursor } from "../chat/reply-cursor.js";
import { ResumeWatchdog, type UnstoredEnd } from "../chat/resume-watchdog.js";
import { formatEvent, parseLastEventId, SSE_HEADERS } from "../chat/sse.js";
import { HttpError } from "../http/errors.js";
import type { AnswerLease } from "../store/answer-slots.js";
import type { ChatTurn } from "../providers/types.js";
import {
  answerEvents,
  isTerminal,
  type ConversationRecord,
  type StreamEvent,
  type UserMessageRecord,
} from "../store/records.js";
import { ownedConversation } from "./conversations.js";
import { replyParams, conversationParams, sendMessageBody } from "./schemas.js";

export function messageRoutes(app: FastifyInstance, deps: AppDeps) {
  const { config, store, metrics } = deps;
  const contextLimits = { maxMessages: config.historyMaxMessages, maxTokens: config.contextMaxTokens };

  app.post<{ Params: { id: string }; Body: { content: string; model?: string } }>(
    "/v1/conversations/:id/messages",
    { schema: { params: conversationParams, body: sendMessageBody(config.maxMessageChars) } },
    async (request, reply) => {
      const startedAt = Date.now();
      refuseWhileDraining(deps);
      const { content } = request.body;
      if (content.trim() === "") throw new HttpError(400, "invalid_request", "The message content is blank.");
      refuseOverContextBudget(content, config.contextMaxTokens);
      const model = request.body.model ?? config.model;
      if (!config.allowedModels.includes(model)) {
        throw new HttpError(
          400,
          "model_not_allowed",
          `Model "${model}" is not enabled here; use one of: ${config.allowedModels.join(", ")}.`,
        );
      }
      const owner = request.userId;
      const messageId = randomUUID();
      const replyId = randomUUID();

      // One round of requests in parallel: the conversation, its context and
      // a slot among the user's answers in progress (also the answer's lease:
      // a resume arriving before the first token finds the answer alive).
      const acquiring = store.slots.acquire(owner, replyId, config.instanceId, config.maxActiveAnswersPerUser);
      let conversation: ConversationRecord;
      let context: Array<Pick<ChatTurn, "role" | "content">>;
      let contextRevision: number;
      let slot: AnswerLease | null = null;
      let messages: ChatTurn[];
      let admission: Admission | undefined;
      try {
        // The context is read alongside, and used only once the conversation is found to be this user's.
        const [found, stored, acquired] = await Promise.all([
          store.findConversation(owner, request.params.id),
          store.contexts.get(request.params.id),
          acquiring,
        ]);
        if (!found) throw new HttpError(404, "not_found", "No such conversation.");
        conversation = found.record;
        slot = acquired;
        if (!slot) {
          metrics.rateLimited.inc({ scope: "answers" });
          throw new HttpError(
            429,
            "too_many_answers",
            `You already have ${config.maxActiveAnswersPerUser} answers in progress; wait for one to finish.`,
            { "retry-after": "5" },
          );
        }
        contextRevision = stored?.revision ?? 0;
        context = stored?.turns ?? (neverSentTo(conversation) ? [] : await contextFromLog(deps, conversation.id));
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
        messages = modelContext([...context, { role: "user", content }], contextLimits);
        admission = await admitMessage(deps, owner, {
          messages,
          maxOutputTokens: config.maxOutputTokens,
          record,
          conversationId: conversation.id,
        }).catch((err: unknown) => {
          if (err instanceof HttpError && err.code === "token_budget_exceeded")
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
        // The slot may have been taken even when another request of the round failed.
        const taken = slot ?? (await acquiring.catch(() => null));
        if (taken) await store.slots.release(taken).catch(() => undefined);
        if (admission) await giveBack(deps, admission);
        throw err;
      }

      const generation = deps.generations.start({
        owner,
        slot,
        conversationId: conversation.id,
        replyId,
        model,
        messages,
        contextRevision,
        startedAt,
        parentSpan: request.span,
        onEnded: settleAnswer(deps, admission!, conversation.id),
      });
      const stream = openEventStream(reply, {
        keepAliveMs: config.sseKeepAliveMs,
        metrics,
        headers: {
          "x-message-id": replyId,
          "content-location": `/v1/conversations/${conversation.id}/messages/${replyId}/stream`,
        },
      });
      const unsubscribe = generation.subscribe((event) => {
        stream.send(event);
        if (isTerminal(event)) stream.end();
      });
      stream.onClientGone(() => {
        unsubscribe();
        if (config.disconnectPolicy === "cancel") generation.cancel("client");
      });
      return reply;
    },
  );

  app.get<{ Params: { id: string; messageId: string }; Querystring: { lastEventId?: string } }>(
    "/v1/conversations/:id/messages/:messageId/stream",
    { schema: { params: replyParams } },
    async (request, reply) => {
      refuseWhileDraining(deps);
      const after = parseLastEventId(
        (request.headers["last-event-id"] as string | undefined) ?? request.query.lastEventId,
      );
      if (after instanceof Error) throw new HttpError(400, "invalid_request", after.message);
      let clientGone = false;
      reply.raw.once("close", () => (clientGone = true));
      const conversation = await ownedConversation(deps, request.userId, request.params.id);
      const replyId = request.params.messageId;
      const [answer, exists] = await Promise.all([
        store.getAnswer(conversation.id, replyId),
        store.replyExists(conversation.id, replyId),
      ]);
      if (answer) return sendEnded(reply, answerEvents(answer, after), replyId);
      if (!exists) throw new HttpError(404, "not_found", "No such message in this conversation.");

      // Still in progress (or its generator died): follow its records live.
      // The consumer is set up before any header goes out, so a failure here
      // is a clean 503 and not a stream that never ends.
      const cursor = new ReplyCursor(after);
      // Records that arrive before the stream is open wait here.
      const early: StreamEvent[] = [];
      let send = (event: StreamEvent): void => {
        early.push(event);
      };
      let lastRecordAt = Date.now();
      const follower = await store.followReply(conversation.id, replyId, (record) => {
        lastRecordAt = Date.now();
        for (const event of cursor.next(record)) send(event);
        return !cursor.ended;
      });
      if (clientGone) {
        follower.stop();
        return reply;
      }
      const stream = openEventStream(reply, {
        keepAliveMs: config.sseKeepAliveMs,
        metrics,
        headers: { "x-message-id": replyId },
      });
      for (const event of early) stream.send(event);
      send = (event) => {
        stream.send(event);
      };
      const endHere = (code: UnstoredEnd) => {
        if (cursor.ended) return;
        stream.send(cursor.unstoredEnd(code));
        follower.stop();
      };
      const forget = deps.resumeStreams.add({
        conversationId: conversation.id,
        stop: follower.stop,
        deleted: () => endHere("conversation_deleted"),
      });

      // An answer whose generator died (instance killed) would never end:
      // once it has been quiet and its lease has lapsed, it is ended for
      // everyone; and what can never end (deleted, or its end cannot be
      // stored) ends this stream here. One check at a time.
      const watchdog = new ResumeWatchdog(
        {
          conversationExists: async () => (await store.getConversation(request.userId, conversation.id)) !== null,
          generatorAlive: () => store.slots.leaseHeld(request.userId, replyId, config.maxActiveAnswersPerUser),
          storeInterruptedEnd: async () => {
            await store.finishAnswerIfKept(request.userId, conversation.id, cursor.interrupted(replyId), {
              legacyEvents: true,
            });
          },
          failed: (err) => request.log.warn({ err, replyId }, "resume watchdog failed"),
        },
        config.generationLeaseMs,
      );
      let checking = false;
      const timer = setInterval(
        () => {
          if (checking || cursor.ended) return;
          checking = true;
          void watchdog
            .check(lastRecordAt)
            .then((end) => {
              if (end) {
                request.log.info({ replyId, code: end }, "resume stream ended here: its answer cannot end");
                endHere(end);
              }
            })
            .finally(() => (checking = false));
        },
        Math.max(250, config.generationLeaseMs / 4),
      );
      stream.onClientGone(() => follower.stop());
      void follower.done
        .catch((err: unknown) => request.log.warn({ err }, "resume stream failed"))
        .finally(() => {
          clearInterval(timer);
          forget();
          stream.end();
        });
      return reply;
    },
  );
}

/**
 * An ended answer: its remaining events in one response. Nothing remaining
 * is 204, the status that tells an EventSource to stop reconnecting.
 */
function sendEnded(reply: FastifyReply, events: ReturnType<typeof answerEvents>, replyId: string) {
  if (events.length === 0) return reply.code(204).header("x-message-id", replyId).send();
  return reply
    .code(200)
    .headers({ ...SSE_HEADERS, "x-message-id": replyId })
    .send(events.map(formatEvent).join(""));
}

/**
 * A conversation's last activity is recorded with its first message and then
 * at most once a minute: enough to order the list and to keep it from
 * expiring, without a write per message.
 */
function touchNow(conversation: ConversationRecord, now: number): boolean {
  if (conversation.updatedAt === undefined || neverSentTo(conversation)) return true;
  return !(now - Date.parse(conversation.updatedAt) < 60_000);
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
async function contextFromLog(deps: AppDeps, conversationId: string) {
  // Only the turns a context can hold are read: a long conversation's whole log would not fit in memory.
  return foldLog(await deps.store.pages.recentTurns(conversationId, deps.config.historyMaxMessages));
}

/**
 * A message is refused, rather than older turns cut short, when it alone is
 * over the context budget: the model would be sent an empty or truncated
 * question, and the client can act on a clear refusal. Only a configuration
 * with MAX_MESSAGE_CHARS above 4 x CONTEXT_MAX_TOKENS lets such a message
 * past the schema.
 */
function refuseOverContextBudget(content: string, maxTokens: number) {
  const tokens = estimateTokens(content);
  if (tokens <= maxTokens) return;
  throw new HttpError(
    413,
    "message_too_large",
    `This message is about ${tokens} tokens (4 characters a token), more than the model is sent at most ` +
      `(CONTEXT_MAX_TOKENS=${maxTokens}); send at most ${maxTokens * 4} characters. ` +
      "Operators: keep MAX_MESSAGE_CHARS at or below 4 x CONTEXT_MAX_TOKENS.",
  );
}

function refuseWhileDraining(deps: AppDeps) {
  if (deps.lifecycle.state === "draining") {
    throw new HttpError(503, "draining", "This instance is shutting down; retry and another instance will answer.", {
      "retry-after": "1",
    });
  }
}
