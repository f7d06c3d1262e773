import { describe, expect, it } from "vitest";
import {
  applyBudgetChanges,
  budgetStep,
  decodeBudget,
  encodeBudget,
  type BudgetChange,
  type BudgetLimits,
} from "../../app/src/chat/token-budget.js";

const limits: BudgetLimits = { input: 1000, output: 300, windowMs: 3_600_000 };
const T = 1_700_000_000_000;
const reserve = (input: number, output: number, l = limits): BudgetChange => ({
  kind: "reserve",
  input,
  output,
  limits: l,
});

describe("budgetStep: reserving", () => {
  it("starts a window with a user's first message and counts both sides", () => {
    expect(budgetStep(null, reserve(40, 100), T)).toEqual({
      result: { allowed: true, windowStart: T, msBeforeNext: 3_600_000 },
      next: { start: T, input: 40, output: 100 },
    });
  });

  it("refuses the reservation that would pass the output limit, naming that side, without writing", () => {
    const window = { start: T, input: 40, output: 250 };
    const step = budgetStep(window, reserve(10, 100), T + 60_000);
    expect(step.next).toBeNull();
    expect(step.result).toEqual({ allowed: false, windowStart: T, exceeded: "output", msBeforeNext: 3_540_000 });
  });

  it("refuses on the input side when that one is over", () => {
    const step = budgetStep({ start: T, input: 950, output: 0 }, reserve(60, 100), T);
    expect(step.result.exceeded).toBe("input");
  });

  it("admits a reservation that reaches the limit exactly", () => {
    expect(budgetStep({ start: T, input: 900, output: 200 }, reserve(100, 100), T).result.allowed).toBe(true);
  });

  it("lets a window's first message through whatever it costs, but nothing after it", () => {
    const first = budgetStep(null, reserve(5000, 100), T);
    expect(first.result.allowed).toBe(true);
    expect(budgetStep(first.next, reserve(1, 100), T).result).toMatchObject({ allowed: false, exceeded: "input" });
  });

  it("starts afresh once the window has ended", () => {
    const step = budgetStep({ start: T, input: 1000, output: 300 }, reserve(10, 100), T + 3_600_000);
    expect(step.result).toEqual({ allowed: true, windowStart: T + 3_600_000, msBeforeNext: 3_600_000 });
    expect(step.next).toEqual({ start: T + 3_600_000, input: 10, output: 100 });
  });

  it("does not trust a window that starts more than a window ahead (a broken clock)", () => {
    const step = budgetStep({ start: T + 10 * 3_600_000, input: 1000, output: 300 }, reserve(10, 100), T);
    expect(step.next).toEqual({ start: T, input: 10, output: 100 });
  });

  it("counts nothing on a side whose limit is 0 (no budget)", () => {
    const off = { ...limits, output: 0 };
    expect(budgetStep({ start: T, input: 0, output: 1e9 }, reserve(10, 100, off), T).result.allowed).toBe(true);
  });
});

describe("budgetStep: settling an answer", () => {
  const settle = (windowStart: number, input: number, output: number): BudgetChange => ({
    kind: "settle",
    windowStart,
    input,
    output,
    limits,
  });

  it("replaces the reservation by what the provider reported (tokens given back, or taken)", () => {
    const step = budgetStep({ start: T, input: 40, output: 100 }, settle(T, 860, -96), T + 1000);
    expect(step.next).toEqual({ start: T, input: 900, output: 4 });
  });

  it("never counts below zero", () => {
    expect(budgetStep({ start: T, input: 10, output: 10 }, settle(T, -50, -50), T).next).toEqual({
      start: T,
      input: 0,
      output: 0,
    });
  });

  it("leaves a later window alone: an ended window owes nothing to the next one", () => {
    expect(
      budgetStep({ start: T + 3_600_000, input: 5, output: 100 }, settle(T, 500, -90), T + 3_600_001).next,
    ).toBeNull();
    expect(budgetStep(null, settle(T, 500, -90), T).next).toBeNull();
  });
});

describe("applyBudgetChanges (changes written together)", () => {
  it("admits reservations in order until the budget is spent", () => {
    const { results, next } = applyBudgetChanges(
      null,
      [reserve(10, 100), reserve(10, 100), reserve(10, 100), reserve(10, 100)],
      T,
    );
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(next).toEqual({ start: T, input: 30, output: 300 });
  });

  it("lets a settlement in the same write make room for the reservation after it", () => {
    const { results } = applyBudgetChanges(
      { start: T, input: 30, output: 300 },
      [{ kind: "settle", windowStart: T, input: 0, output: -100, limits }, reserve(10, 100)],
      T,
    );
    expect(results[1]!.allowed).toBe(true);
  });
});

describe("the stored form", () => {
  it("round-trips", () => {
    const window = { start: T, input: 12, output: 34 };
    expect(decodeBudget(encodeBudget(window))).toEqual(window);
  });

  it("reads anything it did not write as no window", () => {
    for (const text of [
      "",
      "null",
      "[]",
      '{"start":1}',
      '{"start":1,"input":-1,"output":0}',
      '{"start":"x","input":0,"output":0}',
    ])
      expect(decodeBudget(text), text).toBeNull();
  });
});
