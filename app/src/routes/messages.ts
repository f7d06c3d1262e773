import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";
import { openEventStream } from "../chat/event-stream.js";
import { foldLog, modelContext } from "../chat/history.js";
import { parseLastEventId } from "../chat/sse.js";
import { HttpError } from "../plugins/errors.js";
import { isTerminal, type StreamEvent } from "../store/records.js";
import { ownedConversation } from "./conversations.js";
import { replyParams, conversationParams, sendMessageBody } from "./schemas.js";

export function messageRoutes(app: FastifyInstance, deps: AppDeps) {
  const { config, store, metrics } = deps;

  app.post<{ Params: { id: string }; Body: { content: string; model?: string } }>(
    "/v1/conversations/:id/messages",
    { schema: { params: conversationParams, body: sendMessageBody(config.maxMessageChars) } },
    async (request, reply) => {
      const startedAt = Date.now();
      refuseWhileDraining(deps);
      const { content } = request.body;
      if (content.trim() === "") throw new HttpError(400, "invalid_request", "The message content is blank.");
      const model = request.body.model ?? config.model;
      if (!config.allowedModels.includes(model)) {
        throw new HttpError(
          400,
          "model_not_allowed",
          `Model "${model}" is not enabled here; use one of: ${config.allowedModels.join(", ")}.`,
        );
      }
      const conversation = await ownedConversation(deps, request.userId, request.params.id);
      const history = foldLog(await store.readLog(conversation.id));

      const messageId = randomUUID();
      const replyId = randomUUID();
      try {
        // The lease first: a resume that arrives before the first token must
        // find the answer alive.
        await store.holdLease(replyId, config.instanceId);
        await store.appendUserMessage(conversation.id, {
          kind: "user",
          id: messageId,
          replyId,
          content,
          model,
          provider: deps.provider.name,
          createdAt: new Date(startedAt).toISOString(),
        });
      } catch (err) {
        request.log.error({ err }, "could not store the message");
        throw new HttpError(
          503,
          "store_unavailable",
          "The message could not be stored; nothing was sent to the model. Retry shortly.",
          { "retry-after": "2" },
        );
      }

      const generation = deps.generations.start({
        conversationId: conversation.id,
        replyId,
        model,
        messages: modelContext(
          [...history, { id: messageId, role: "user", content, createdAt: "" }],
          config.historyMaxMessages,
        ),
        startedAt,
        parentSpan: request.span,
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
      const conversation = await ownedConversation(deps, request.userId, request.params.id);
      const replyId = request.params.messageId;
      if (!(await store.replyExists(conversation.id, replyId))) {
        throw new HttpError(404, "not_found", "No such message in this conversation.");
      }

      const stream = openEventStream(reply, {
        keepAliveMs: config.sseKeepAliveMs,
        metrics,
        headers: { "x-message-id": replyId },
      });
      let lastStoredSeq = 0;
      let lastEventAt = Date.now();
      const follower = await store.followReply(conversation.id, replyId, (event: StreamEvent) => {
        lastEventAt = Date.now();
        if (event.seq <= lastStoredSeq) return true;
        lastStoredSeq = event.seq;
        if (event.seq > after) stream.send(event);
        return !isTerminal(event);
      });
      // An answer whose generator died (instance killed) would never end:
      // once it has been quiet and its lease has lapsed, end it for everyone.
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastEventAt < config.generationLeaseMs / 2) return;
          void store
            .hasLease(replyId)
            .then(async (alive) => {
              if (alive || stream.ended) return;
              await store.appendEvent(conversation.id, replyId, {
                seq: lastStoredSeq + 1,
                type: "error",
                data: {
                  code: "generation_interrupted",
                  message: "The answer was interrupted before it finished; send the message again.",
                },
              });
            })
            .catch((err: unknown) => request.log.warn({ err }, "resume watchdog failed"));
        },
        Math.max(250, config.generationLeaseMs / 4),
      );
      stream.onClientGone(() => follower.stop());
      void follower.done
        .catch((err: unknown) => request.log.warn({ err }, "resume stream failed"))
        .finally(() => {
          clearInterval(watchdog);
          stream.end();
        });
      return reply;
    },
  );
}

function refuseWhileDraining(deps: AppDeps) {
  if (deps.lifecycle.state === "draining") {
    throw new HttpError(503, "draining", "This instance is shutting down; retry and another instance will answer.", {
      "retry-after": "1",
    });
  }
}
