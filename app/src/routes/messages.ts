// Sending a message and following its answer, in HTTP: requests parsed,
// the rules called (chat/start-answer.ts, chat/follow-answer.ts), their
// refusals said with a status, and answers streamed as server-sent events.
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ChatDeps } from "../chat/chat-deps.js";
import { openEventStream } from "../chat/event-stream.js";
import { followAnswer } from "../chat/follow-answer.js";
import { formatEvent, parseLastEventId, SSE_HEADERS } from "../chat/sse.js";
import { QuotaRefused } from "../chat/message-quotas.js";
import { startAnswer, type StartRefusal } from "../chat/start-answer.js";
import { HttpError } from "../http/errors.js";
import { conversationNotFound } from "../http/not-found.js";
import { quotaHttpError } from "../http/quota-errors.js";
import type { StreamEvent } from "../store/records.js";
import { isTerminal } from "../store/records.js";
import { replyParams, conversationParams, sendMessageBody } from "./schemas.js";

export function messageRoutes(app: FastifyInstance, deps: ChatDeps) {
  const { config, metrics } = deps;

  app.post<{ Params: { id: string }; Body: { content: string; model?: string } }>(
    "/v1/conversations/:id/messages",
    { schema: { params: conversationParams, body: sendMessageBody(config.maxMessageChars) } },
    async (request, reply) => {
      refuseWhileDraining(deps);
      const started = await startAnswer(deps, {
        owner: request.userId,
        conversationId: request.params.id,
        content: request.body.content,
        model: request.body.model,
        parentSpan: request.span,
        log: request.log,
      }).catch((err: unknown) => {
        throw err instanceof QuotaRefused ? quotaHttpError(err.refusal) : err;
      });
      if (started.refused) throw startRefused(started);
      const { generation, conversationId, replyId } = started;
      const stream = openEventStream(reply, {
        keepAliveMs: config.sseKeepAliveMs,
        metrics,
        headers: {
          "x-message-id": replyId,
          "content-location": `/v1/conversations/${conversationId}/messages/${replyId}/stream`,
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
      const replyId = request.params.messageId;
      const followed = await followAnswer(deps, {
        owner: request.userId,
        conversationId: request.params.id,
        replyId,
        after,
        log: request.log,
      });
      switch (followed.kind) {
        case "no_such_conversation":
          throw conversationNotFound();
        case "no_such_answer":
          throw new HttpError(404, "not_found", "No such message in this conversation.");
        case "ended":
          return sendEnded(reply, followed.events, replyId);
      }
      // Still in progress (or its generator died): its records follow live.
      if (clientGone) {
        followed.answer.stop();
        return reply;
      }
      const stream = openEventStream(reply, {
        keepAliveMs: config.sseKeepAliveMs,
        metrics,
        headers: { "x-message-id": replyId },
      });
      followed.answer.attach(stream);
      stream.onClientGone(() => followed.answer.stop());
      return reply;
    },
  );
}

/**
 * An ended answer: its remaining events in one response. Nothing remaining
 * is 204, the status that tells an EventSource to stop reconnecting.
 */
function sendEnded(reply: FastifyReply, events: StreamEvent[], replyId: string) {
  if (events.length === 0) return reply.code(204).header("x-message-id", replyId).send();
  return reply
    .code(200)
    .headers({ ...SSE_HEADERS, "x-message-id": replyId })
    .send(events.map(formatEvent).join(""));
}

function startRefused(refusal: StartRefusal): HttpError {
  switch (refusal.refused) {
    case "blank":
      return new HttpError(400, "invalid_request", "The message content is blank.");
    case "over_context_budget": {
      const { tokens, maxTokens } = refusal;
      // Only a configuration with MAX_MESSAGE_CHARS above 4 x CONTEXT_MAX_TOKENS lets such a message past the schema.
      return new HttpError(
        413,
        "message_too_large",
        `This message is about ${tokens} tokens (4 characters a token), more than the model is sent at most ` +
          `(CONTEXT_MAX_TOKENS=${maxTokens}); send at most ${maxTokens * 4} characters. ` +
          "Operators: keep MAX_MESSAGE_CHARS at or below 4 x CONTEXT_MAX_TOKENS.",
      );
    }
    case "model_not_allowed":
      return new HttpError(
        400,
        "model_not_allowed",
        `Model "${refusal.model}" is not enabled here; use one of: ${refusal.allowed.join(", ")}.`,
      );
    case "no_such_conversation":
      return conversationNotFound();
    case "too_many_answers":
      return new HttpError(
        429,
        "too_many_answers",
        `You already have ${refusal.limit} answers in progress; wait for one to finish.`,
        { "retry-after": "5" },
      );
  }
}

function refuseWhileDraining(deps: Pick<ChatDeps, "lifecycle">) {
  if (deps.lifecycle.state === "draining") {
    throw new HttpError(503, "draining", "This instance is shutting down; retry and another instance will answer.", {
      "retry-after": "1",
    });
  }
}
