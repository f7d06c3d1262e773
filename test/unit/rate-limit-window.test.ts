import { describe, expect, it } from "vitest";
import {
  decodeWindow,
  encodeWindow,
  nextStep,
  OutageGate,
  type WindowCount,
} from "../../app/src/store/rate-limit-window.js";

const limits = { requests: 3, windowMs: 60_000 };
const T = 1_700_000_000_000;

describe("nextStep", () => {
  it("starts a window with the first request", () => {
    expect(nextStep(null, T, limits)).toEqual({
      write: true,
      next: { start: T, count: 1 },
      verdict: { allowed: true, remaining: 2, msBeforeNext: 60_000 },
    });
  });

  it("counts up to the limit within the window, then refuses without writing", () => {
    let current: WindowCount | null = null;
    const allowed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const step = nextStep(current, T + i * 1000, limits);
      allowed.push(step.verdict.allowed);
      if (step.write) current = step.next;
    }
    expect(allowed).toEqual([true, true, true, false, false]);
    expect(current).toEqual({ start: T, count: 3 });
    expect(nextStep(current, T + 4000, limits)).toEqual({
      write: false,
      verdict: { allowed: false, remaining: 0, msBeforeNext: 56_000 },
    });
  });

  it("starts over once the window has ended", () => {
    const full = { start: T, count: 3 };
    expect(nextStep(full, T + 59_999, limits).verdict.allowed).toBe(false);
    expect(nextStep(full, T + 60_000, limits)).toEqual({
      write: true,
      next: { start: T + 60_000, count: 1 },
      verdict: { allowed: true, remaining: 2, msBeforeNext: 60_000 },
    });
  });

  it("keeps a window started by an instance whose clock runs a little ahead, and reports at most one window", () => {
    const step = nextStep({ start: T + 2000, count: 1 }, T, limits);
    expect(step).toMatchObject({ write: true, next: { start: T + 2000, count: 2 } });
    expect(step.verdict.msBeforeNext).toBe(60_000);
  });

  it("starts over on a window that would not end for more than a window", () => {
    expect(nextStep({ start: T + 60_000, count: 3 }, T, limits)).toMatchObject({
      write: true,
      next: { start: T, count: 1 },
    });
  });
});

describe("encodeWindow / decodeWindow", () => {
  it("round-trips", () => {
    expect(decodeWindow(encodeWindow({ start: T, count: 7 }))).toEqual({ start: T, count: 7 });
  });

  it.each(["", "not json", "null", "[]", '{"start":1}', '{"start":"1","count":1}', '{"start":1,"count":-1}'])(
    "reads %j as no counter",
    (text) => {
      expect(decodeWindow(text)).toBeNull();
    },
  );
});

describe("OutageGate", () => {
  it("asks NATS while it answers", () => {
    const gate = new OutageGate(1000);
    expect(gate.shouldTry(T)).toBe(true);
    expect(gate.succeeded()).toBe(false);
    expect(gate.shouldTry(T + 1)).toBe(true);
  });

  it("reports an outage once, lets one request probe per interval, and reports the end once", () => {
    const gate = new OutageGate(1000);
    expect(gate.failed(T)).toBe(true);
    expect(gate.failed(T + 10)).toBe(false);
    expect(gate.shouldTry(T + 500)).toBe(false);
    expect(gate.shouldTry(T + 1010)).toBe(true);
    // The probe is in flight: nobody else asks.
    expect(gate.shouldTry(T + 1011)).toBe(false);
    expect(gate.failed(T + 1500)).toBe(false);
    expect(gate.shouldTry(T + 2000)).toBe(false);
    expect(gate.shouldTry(T + 2500)).toBe(true);
    expect(gate.succeeded()).toBe(true);
    expect(gate.succeeded()).toBe(false);
    expect(gate.shouldTry(T + 2501)).toBe(true);
  });

  it("probes at once when the connection comes back", () => {
    const gate = new OutageGate(60_000);
    gate.failed(T);
    expect(gate.shouldTry(T + 1)).toBe(false);
    gate.retrySoon();
    expect(gate.shouldTry(T + 2)).toBe(true);
    expect(gate.shouldTry(T + 3)).toBe(false);
  });
});
