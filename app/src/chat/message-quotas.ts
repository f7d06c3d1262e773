// A message against its user's quotas: its tokens (the context it sends, and
// the whole output limit its answer may take) reserved from the token budget,
// and its bytes charged to the storage quota, both before it is stored or
// sent, and both or neither. When its answer ends, the reservation becomes
// what the provider reported and the answer's bytes are counted.
import type { ChatTurn } from "../providers/types.js";
import { recordBytes, type QuotaResult } from "./storage-quota.js";
import { estimateTokens } from "./context.js";
import type { BudgetLimits, BudgetResult } from "./token-budget.js";
import type { AnswerRecord, UserMessageRecord, Usage } from "../store/records.js";
import { subjects } from "../store/subjects.js";
import type { Reservation, TokenBudgets } from "../store/token-budget-counters.js";
import type { BudgetCounters, QuotaCounters } from "./chat-deps.js";

export interface Quotas {
  budgets: BudgetCounters;
  quota: QuotaCounters;
}

export type QuotaRefusal =
  | { kind: "token_budget"; result: BudgetResult; limits: BudgetLimits }
  | { kind: "storage_quota"; result: QuotaResult; limit: number };

/** A message one of its user's quotas refused; the route says which, and what frees it (http/quota-errors.ts). */
export class QuotaRefused extends Error {
  constructor(readonly refusal: QuotaRefusal) {
    super(refusal.kind === "token_budget" ? "the token budget is used up" : "the storage quota is used up");
    this.name = "QuotaRefused";
  }
}

/** What an admitted message took, to give back if it is not sent after all. */
export interface Admission {
  owner: string;
  reservation: Reservation | null;
  bytes: number;
  /** The storage quota's answer to its charge (null: not charged), for the recount once its answer is stored. */
  charged: QuotaResult | null;
}

/** The tokens a context costs before the provider says: 4 characters a token, as everywhere else. */
export function promptTokens(messages: ReadonlyArray<Pick<ChatTurn, "content">>): number {
  return estimateTokens(messages.map((m) => m.content).join(""));
}

/**
 * Takes the message's share of both quotas, or throws the first refusal (a
 * QuotaRefused, or the store's failure), having given back what the other took.
 */
export async function admitMessage(
  quotas: Quotas,
  owner: string,
  cost: { messages: readonly ChatTurn[]; maxOutputTokens: number; record: UserMessageRecord; conversationId: string },
): Promise<Admission> {
  const { budgets, quota } = quotas;
  const bytes = recordBytes(
    subjects.userMessage(cost.conversationId, cost.record.replyId),
    JSON.stringify(cost.record),
  );
  const tokens = { input: promptTokens(cost.messages), output: cost.maxOutputTokens };
  const [reserved, charged] = await Promise.allSettled([
    budgets.enabled ? budgets.reserve(owner, tokens) : Promise.resolve(null),
    quota.charge(owner, bytes),
  ]);
  const reservation =
    reserved.status === "fulfilled" && reserved.value && "reservation" in reserved.value
      ? reserved.value.reservation
      : null;
  const admitted = charged.status === "fulfilled" && charged.value.allowed && quota.enabled ? charged.value : null;
  const refusal = refusalOf(reserved, charged, quotas);
  const admission = { owner, reservation, bytes: admitted ? bytes : 0, charged: admitted };
  if (refusal !== undefined) {
    await giveBack(quotas, admission);
    throw refusal;
  }
  return admission;
}

/** The first refusal of the two (a NATS failure, or a quota's), or undefined when both admit. */
function refusalOf(
  reserved: PromiseSettledResult<Awaited<ReturnType<TokenBudgets["reserve"]>> | null>,
  charged: PromiseSettledResult<QuotaResult>,
  quotas: Quotas,
): unknown {
  if (reserved.status === "rejected") return reserved.reason;
  if (reserved.value && "refused" in reserved.value)
    return new QuotaRefused({ kind: "token_budget", result: reserved.value.refused, limits: quotas.budgets.limits });
  if (charged.status === "rejected") return charged.reason;
  if (!charged.value.allowed)
    return new QuotaRefused({ kind: "storage_quota", result: charged.value, limit: quotas.quota.limit });
  return undefined;
}

/** Returns an admission's tokens and bytes: the message was not stored, or not sent. */
export async function giveBack(quotas: Quotas, admission: Admission): Promise<void> {
  await Promise.all([
    admission.reservation
      ? quotas.budgets.settle(admission.reservation, { inputTokens: 0, outputTokens: 0 }).catch(() => undefined)
      : undefined,
    quotas.quota.add(admission.owner, -admission.bytes),
  ]);
}

/** The hook a Generation calls when its answer has ended. */
export function settleAnswer(quotas: Quotas, admission: Admission, conversationId: string) {
  return async (ended: { usage: Usage; stored: AnswerRecord | null }): Promise<void> => {
    const { stored } = ended;
    await Promise.all([
      admission.reservation ? quotas.budgets.settle(admission.reservation, ended.usage) : undefined,
      stored
        ? quotas.quota.add(
            admission.owner,
            recordBytes(subjects.answer(conversationId, stored.replyId), JSON.stringify(stored)),
          )
        : undefined,
    ]);
    // The message and its answer are stored and counted: a recount now finds both.
    if (admission.charged) await quotas.quota.recountIfDue(admission.owner, admission.charged);
  };
}
