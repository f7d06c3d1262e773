import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";
import { uncompactedAnswers } from "../chat/compaction.js";
import { deleteConversation } from "../chat/conversation-delete.js";
import { foldLog } from "../chat/history.js";
import { pageOfConversations } from "../chat/conversation-list.js";
import { encodePageCursor, PAGE_MAX_BYTES, pageQuery } from "../chat/conversation-page.js";
import { conversationRecordBytes } from "../chat/storage-quota.js";
import { storageQuotaExceeded } from "../http/quota-errors.js";
import { HttpError } from "../http/errors.js";
import type { AnswerRecord, ConversationRecord, LogRecord } from "../store/records.js";
import { conversationParams, conversationQuery, createConversationBody, listQuery } from "./schemas.js";

export function conversationRoutes(app: FastifyInstance, deps: AppDeps) {
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
      const conversation = await ownedConversation(deps, request.userId, request.params.id);
      const page = await store.pages.read(conversation.id, { ...query, maxBytes: PAGE_MAX_BYTES });
      const compacted = await compactAnswers(deps, request.userId, conversation.id, page.log).catch((err: unknown) => {
        request.log.warn({ err }, "could not compact the conversation's answers");
        return [];
      });
      return {
        ...conversation,
        messages: foldLog([...page.log, ...compacted]),
        nextCursor: page.next === null ? null : encodePageCursor(page.next),
      };
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

/**
 * Stores answers the log still holds event by event as one record each: those
 * that ended (written by versions before compaction) and those whose
 * generator is dead. Returns the records stored.
 */
async function compactAnswers(deps: AppDeps, owner: string, conversationId: string, log: readonly LogRecord[]) {
  const stored: AnswerRecord[] = [];
  for (const answer of uncompactedAnswers(log)) {
    const alive =
      !answer.ended && (await deps.store.slots.leaseHeld(owner, answer.replyId, deps.config.maxActiveAnswersPerUser));
    const record = answer.ended ?? (alive ? undefined : answer.ifDead);
    if (!record) continue;
    if (await deps.store.finishAnswerIfKept(owner, conversationId, record, { legacyEvents: true })) stored.push(record);
  }
  return stored;
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
