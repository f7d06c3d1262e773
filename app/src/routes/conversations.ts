// Conversations in HTTP: create (chat/create-conversation.ts), list, read a
// page of messages (chat/read-conversation.ts) and delete
// (chat/conversation-delete.ts).
import type { FastifyInstance } from "fastify";
import type { ChatDeps } from "../chat/chat-deps.js";
import { createConversation } from "../chat/create-conversation.js";
import { deleteConversation } from "../chat/conversation-delete.js";
import { pageOfConversations } from "../chat/conversation-list.js";
import { pageQuery } from "../chat/conversation-page.js";
import { readConversation } from "../chat/read-conversation.js";
import { storageQuotaExceeded } from "../http/quota-errors.js";
import { HttpError } from "../http/errors.js";
import { conversationNotFound } from "../http/not-found.js";
import { conversationParams, conversationQuery, createConversationBody, listQuery } from "./schemas.js";

export function conversationRoutes(app: FastifyInstance, deps: Pick<ChatDeps, "store" | "quota" | "config">) {
  const { store } = deps;

  app.post<{ Body: { title?: string } | null }>(
    "/v1/conversations",
    { schema: { body: createConversationBody } },
    async (request, reply) => {
      const created = await createConversation(deps, request.userId, request.body?.title ?? null);
      if (created.refused) throw storageQuotaExceeded(created.charged, deps.quota.limit);
      const { record } = created;
      return reply.code(201).header("location", `/v1/conversations/${record.id}`).send(record);
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    "/v1/conversations",
    { schema: { querystring: listQuery } },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = pageOfConversations(await store.listConversations(request.userId), {
        limit: limit === undefined ? undefined : Number(limit),
        cursor,
      });
      if (page instanceof Error) throw new HttpError(400, "invalid_request", page.message);
      return page;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: string; cursor?: string } }>(
    "/v1/conversations/:id",
    { schema: { params: conversationParams, querystring: conversationQuery } },
    async (request) => {
      const query = pageQuery(request.query);
      if (query instanceof Error) throw new HttpError(400, "invalid_request", query.message);
      const page = await readConversation(deps, request.userId, request.params.id, query, request.log);
      if (!page) throw conversationNotFound();
      return page;
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/v1/conversations/:id",
    { schema: { params: conversationParams } },
    async (request, reply) => {
      if (!(await deleteConversation(deps, request.userId, request.params.id))) throw conversationNotFound();
      return reply.code(204).send();
    },
  );
}
