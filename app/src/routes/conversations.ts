import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";
import { foldLog } from "../chat/history.js";
import { HttpError } from "../plugins/errors.js";
import type { ConversationRecord } from "../store/records.js";
import { conversationParams, createConversationBody } from "./schemas.js";

export function conversationRoutes(app: FastifyInstance, deps: AppDeps) {
  const { store } = deps;

  app.post<{ Body: { title?: string } | null }>(
    "/v1/conversations",
    { schema: { body: createConversationBody } },
    async (request, reply) => {
      const record: ConversationRecord = {
        id: randomUUID(),
        title: request.body?.title ?? null,
        createdAt: new Date().toISOString(),
      };
      await store.createConversation(request.userId, record);
      return reply.code(201).header("location", `/v1/conversations/${record.id}`).send(record);
    },
  );

  app.get("/v1/conversations", async (request) => ({
    conversations: await store.listConversations(request.userId),
  }));

  app.get<{ Params: { id: string } }>(
    "/v1/conversations/:id",
    { schema: { params: conversationParams } },
    async (request) => {
      const conversation = await ownedConversation(deps, request.userId, request.params.id);
      return { ...conversation, messages: foldLog(await store.readLog(conversation.id)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/v1/conversations/:id",
    { schema: { params: conversationParams } },
    async (request, reply) => {
      if (!(await store.deleteConversation(request.userId, request.params.id))) throw conversationNotFound();
      return reply.code(204).send();
    },
  );
}

/** The conversation if this user owns it; 404 otherwise, so ids of others' conversations reveal nothing. */
export async function ownedConversation(deps: AppDeps, userId: string, id: string): Promise<ConversationRecord> {
  const conversation = await deps.store.getConversation(userId, id);
  if (!conversation) throw conversationNotFound();
  return conversation;
}

function conversationNotFound(): HttpError {
  return new HttpError(404, "not_found", "No such conversation.");
}
