// What a client hears when a quota refuses: which limit, how much of it is
// used, and what frees it.
import bytes from "bytes";
import type { BudgetLimits, BudgetResult } from "../chat/token-budget.js";
import type { QuotaRefusal } from "../chat/message-quotas.js";
import type { QuotaResult } from "../chat/storage-quota.js";
import { HttpError } from "./errors.js";

/** A quota's refusal as the client hears it. */
export function quotaHttpError(refusal: QuotaRefusal): HttpError {
  return refusal.kind === "token_budget"
    ? tokenBudgetExceeded(refusal.result, refusal.limits)
    : storageQuotaExceeded(refusal.result, refusal.limit);
}

/** 429 token_budget_exceeded, with Retry-After when the window ends. */
export function tokenBudgetExceeded(result: BudgetResult, limits: BudgetLimits): HttpError {
  const side = result.exceeded ?? "input";
  const retryAfter = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
  const window = humanDuration(limits.windowMs);
  const what = side === "input" ? "tokens sent to the model" : "tokens of answers";
  return new HttpError(
    429,
    "token_budget_exceeded",
    `Your ${side} token budget is used up (${limits[side]} ${what} per ${window}); nothing was stored or sent. It is whole again in ${retryAfter} s.`,
    { "retry-after": String(retryAfter) },
  );
}

/** 507 storage_quota_exceeded: waiting does not help, deleting conversations does. */
export function storageQuotaExceeded(result: QuotaResult, limit: number): HttpError {
  const used = bytes.format(result.used, { unitSeparator: " " });
  const quota = bytes.format(limit, { unitSeparator: " " });
  return new HttpError(
    507,
    "storage_quota_exceeded",
    `Your conversations hold ${used} of your ${quota} storage quota; nothing was stored. Delete conversations you no longer need (DELETE /v1/conversations/:id) to free space.`,
  );
}

function humanDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
  ];
  for (const [size, name] of units) {
    if (ms % size === 0) {
      const n = ms / size;
      return n === 1 ? name : `${n} ${name}s`;
    }
  }
  return `${ms} ms`;
}
