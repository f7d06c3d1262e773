// A user's token budget: the tokens their messages send to the model and the
// tokens their answers take, each per fixed window (it starts with the
// user's first message in it). A message reserves its estimated input and
// its whole output limit before the model is called, so a user cannot start
// many answers past the budget at once; when the answer ends, the
// reservation is replaced by what the provider reported.
import { readWholeNumbers } from "../store/counter-entry.js";

/** One user's window: tokens counted so far, reservations included. */
export interface BudgetWindow {
  /** Epoch milliseconds of the window's first message. */
  start: number;
  input: number;
  output: number;
}

export interface BudgetLimits {
  /** Per window; 0: no limit on that side. */
  input: number;
  output: number;
  windowMs: number;
}

export type TokenSide = "input" | "output";

export type BudgetChange =
  /** Before a model call: refused when it would pass a limit. */
  | { kind: "reserve"; input: number; output: number; limits: BudgetLimits }
  /** After it: the difference between what was used and what was reserved, in the window reserved from. */
  | { kind: "settle"; windowStart: number; input: number; output: number; limits: BudgetLimits };

export interface BudgetResult {
  allowed: boolean;
  /** The window the change was counted in (to settle against). */
  windowStart: number;
  /** The side that refused. */
  exceeded?: TokenSide;
  /** Until the window ends and its budget is whole again. */
  msBeforeNext: number;
}

function live(window: BudgetWindow | null, now: number, windowMs: number): window is BudgetWindow {
  // A start in the future beyond one window can only be a broken clock or a
  // hand-edited entry: starting over is safer than a window that never ends.
  return window !== null && now < window.start + windowMs && window.start - now < windowMs;
}

/** One change against a window: its result and the window after it (null: unchanged). */
export function budgetStep(
  current: BudgetWindow | null,
  change: BudgetChange,
  now: number,
): { result: BudgetResult; next: BudgetWindow | null } {
  const { windowMs } = change.limits;
  const window = live(current, now, windowMs) ? current : null;
  const msBeforeNext = (start: number) => Math.min(windowMs, Math.max(0, start + windowMs - now));
  if (change.kind === "settle") {
    // A window that has ended owes nothing to the next one.
    if (!window || window.start !== change.windowStart || (change.input === 0 && change.output === 0)) {
      return { result: { allowed: true, windowStart: change.windowStart, msBeforeNext: 0 }, next: null };
    }
    const next = {
      start: window.start,
      input: Math.max(0, window.input + change.input),
      output: Math.max(0, window.output + change.output),
    };
    return { result: { allowed: true, windowStart: window.start, msBeforeNext: msBeforeNext(window.start) }, next };
  }
  const base = window ?? { start: now, input: 0, output: 0 };
  for (const side of ["input", "output"] as const) {
    const limit = change.limits[side];
    // The first message of a window always goes, whatever it costs: a single
    // message over the whole budget must not lock its user out for good.
    if (limit > 0 && base[side] > 0 && base[side] + change[side] > limit) {
      return {
        result: { allowed: false, windowStart: base.start, exceeded: side, msBeforeNext: msBeforeNext(base.start) },
        next: null,
      };
    }
  }
  const next = { start: base.start, input: base.input + change.input, output: base.output + change.output };
  return { result: { allowed: true, windowStart: base.start, msBeforeNext: msBeforeNext(base.start) }, next };
}

/** Changes one after the other (those written together): each one's result, and the window to write. */
export function applyBudgetChanges(
  current: BudgetWindow | null,
  changes: readonly BudgetChange[],
  now: number,
): { results: BudgetResult[]; next: BudgetWindow | null } {
  const results: BudgetResult[] = [];
  let next: BudgetWindow | null = null;
  for (const change of changes) {
    const step = budgetStep(next ?? current, change, now);
    results.push(step.result);
    if (step.next) next = step.next;
  }
  return { results, next };
}

/** The stored form: small, and readable with `nats kv get`. */
export function encodeBudget(window: BudgetWindow): string {
  return JSON.stringify({ start: window.start, input: window.input, output: window.output });
}

/** Null for anything that is not a window this code wrote: the user then starts over. */
export function decodeBudget(text: string): BudgetWindow | null {
  return readWholeNumbers(text, { start: "integer", input: "count", output: "count" });
}
