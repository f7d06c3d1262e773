// What the chat rules (start-answer.ts, follow-answer.ts, read-conversation.ts)
// and the routes that call them need, as narrow types: the store is the part
// of ChatStore they call, the quotas the part of the counters they call. The
// server hands them the real ones; a test can hand them doubles of just this.
import type { Config } from "../config/env.js";
import type { Metrics } from "../observability/metrics.js";
import type { LlmProvider } from "../providers/types.js";
import type { AnswerSlots } from "../store/answer-slots.js";
import type { ChatStore } from "../store/chat-store.js";
import type { ConversationContexts } from "../store/conversation-contexts.js";
import type { ConversationPages } from "../store/conversation-pages.js";
import type { StoredSizes } from "../store/stored-sizes.js";
import type { StorageQuota } from "../store/stored-bytes-counters.js";
import type { TokenBudgets } from "../store/token-budget-counters.js";
import type { GenerationRegistry } from "./registry.js";
import type { ResumeStreams } from "./resume-streams.js";

/** The chat store as the rules, the routes and a Generation use it. */
export type ChatRulesStore = Pick<
  ChatStore,
  | "createConversation"
  | "findConversation"
  | "getConversation"
  | "touchConversation"
  | "listConversations"
  | "conversationEntry"
  | "removeConversation"
  | "finishRemoval"
  | "purgeConversationData"
  | "appendUserMessage"
  | "appendEvents"
  | "finishAnswer"
  | "finishAnswerIfKept"
  | "getAnswer"
  | "replyExists"
  | "followReply"
> & {
  slots: Pick<AnswerSlots, "acquire" | "renew" | "release" | "leaseHeld">;
  contexts: Pick<ConversationContexts, "get" | "put" | "forget">;
  pages: Pick<ConversationPages, "read" | "recentTurns">;
  sizes: Pick<StoredSizes, "recordSubject">;
};

/** Each user's token budget, as a message's admission uses it. */
export type BudgetCounters = Pick<TokenBudgets, "enabled" | "limits" | "reserve" | "settle">;
/** Each user's stored bytes, as messages, creates and deletes use them. */
export type QuotaCounters = Pick<
  StorageQuota,
  "enabled" | "limit" | "charge" | "add" | "recountIfDue" | "conversationBytes"
>;

export interface ChatDeps {
  config: Pick<
    Config,
    | "model"
    | "allowedModels"
    | "maxMessageChars"
    | "maxOutputTokens"
    | "historyMaxMessages"
    | "contextMaxTokens"
    | "maxActiveAnswersPerUser"
    | "instanceId"
    | "generationLeaseMs"
    | "sseKeepAliveMs"
    | "disconnectPolicy"
  >;
  store: ChatRulesStore;
  budgets: BudgetCounters;
  quota: QuotaCounters;
  metrics: Pick<Metrics, "rateLimited" | "activeStreams">;
  provider: Pick<LlmProvider, "name">;
  generations: Pick<GenerationRegistry, "start">;
  resumeStreams: Pick<ResumeStreams, "add">;
  /** "draining": new streams are refused (see AppDeps). */
  lifecycle: { state: string };
}
