// Conversations in HTTP: create, list, read (a page of messages; see
// chat/read-conversation.ts) and delete (chat/conversation-delete.ts).
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { ChatDeps } from "../chat/chat-deps.js";
import { deleteConversation } from "../chat/conversation-delete.js";
import { pageOfConversations } from "../chat/conversation-list.js";
import { pageQuery } from "../chat/conversation-page.js";
import { readConversation } from "../chat/read-conversation.js";
import { conversationRecordBytes } from "../chat/storage-quota.js";
import { storageQuotaExceeded } from "../http/quota-errors.js";
import { HttpError } from "../http/errors.js";
import type { ConversationRecord } from "../store/records.js";
import { conversationParams, conversationQuery, createConversationBody, listQuery } from "./schemas.js";

export function conversationRoutes(app: FastifyInstance, deps: Pick<ChatDeps, "store" | "quota" | "config">) {
  const { store, quota } = deps;

  app.post<{ Body: { title?: string } | null }>(
    "/v1/conversations",
    { schema: { body: createConversationBody } },
    async (request, reply) => {
      const now = new Date().toISOString();
      const record: ConversationRecord = {
        id: randomUUID(),
        title: request.body?.title ?? null,
        createdAt: now,
        updatedAt: now,
      };
      const bytes = conversationRecordBytes(
        store.sizes.recordSubject(request.userId, record.id),
        JSON.stringify(record),
      );
      const charged = await quota.charge(request.userId, bytes);
      if (!charged.allowed) throw storageQuotaExceeded(charged, quota.limit);
      try {
        await store.createConversation(request.userId, record);
      } catch (err) {
        await quota.add(request.userId, -bytes);
        throw err;
      }
      await quota.recountIfDue(request.userId, charged);
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

export function conversationNotFound(): HttpError {
  return new HttpError(404, "not_found", "No such conversation.");
}
