// Token budgets in the KV bucket `token-budgets`, one entry per user, shared
// by every instance (shared-counters.ts). An entry lives a little longer than
// its window, then the user starts afresh.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  applyBudgetChanges,
  decodeBudget,
  encodeBudget,
  type BudgetChange,
  type BudgetLimits,
  type BudgetResult,
  type BudgetWindow,
} from "../chat/token-budget.js";
import type { Usage } from "./records.js";
import { applyOrUnavailable, counterKey, SharedCounters, type CounterPolicy } from "./shared-counters.js";

export const TOKEN_BUDGET_BUCKET = "token-budgets";
/** Covers the instances' and NATS's clocks disagreeing (as for the rate limits). */
const TTL_MARGIN_MS = 5_000;

const budgetPolicy: CounterPolicy<BudgetWindow, BudgetChange, BudgetResult> = {
  apply: applyBudgetChanges,
  encode: encodeBudget,
  decode: decodeBudget,
  // A settled answer gives tokens back, on whichever instance it ran.
  refusesFromMemory: false,
};

/** What a message reserved, to settle when its answer ends. */
export interface Reservation {
  owner: string;
  windowStart: number;
  input: number;
  output: number;
}

export class TokenBudgets {
  private readonly counters: SharedCounters<BudgetWindow, BudgetChange, BudgetResult>;

  constructor(
    nc: NatsConnection,
    readonly limits: BudgetLimits,
    replicas: number,
  ) {
    this.counters = new SharedCounters(
      nc,
      { name: TOKEN_BUDGET_BUCKET, ttlMs: limits.windowMs + TTL_MARGIN_MS, replicas },
      budgetPolicy,
    );
  }

  /** Off when neither side has a limit: nothing is counted. */
  get enabled(): boolean {
    return this.limits.input > 0 || this.limits.output > 0;
  }

  /** Creates the bucket (or updates its max age) ahead of the first message. */
  open(): Promise<unknown> {
    return this.enabled ? this.counters.open() : Promise.resolve();
  }

  /**
   * Reserves a message's tokens; the refusal names the side over its limit.
   * Throws a StoreError when NATS cannot count (nothing is sent then).
   */
  async reserve(
    owner: string,
    tokens: { input: number; output: number },
  ): Promise<{ reservation: Reservation } | { refused: BudgetResult }> {
    const result = await this.change(owner, { kind: "reserve", ...tokens, limits: this.limits });
    if (!result.allowed) return { refused: result };
    return { reservation: { owner, windowStart: result.windowStart, ...tokens } };
  }

  /** Replaces a reservation by what was used (all of it back when nothing was). */
  async settle(reservation: Reservation, used: Usage): Promise<void> {
    await this.change(reservation.owner, {
      kind: "settle",
      windowStart: reservation.windowStart,
      input: used.inputTokens - reservation.input,
      output: used.outputTokens - reservation.output,
      limits: this.limits,
    });
  }

  private change(owner: string, change: BudgetChange): Promise<BudgetResult> {
    return applyOrUnavailable(this.counters, counterKey("tokens", owner), change);
  }
}
