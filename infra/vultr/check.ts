// Input validation shared by the kinds' `check`: collects every problem with
// the input's name, so `pulumi preview` reports them all at once.
import type { CheckFailure } from "./provider.js";

/**
 * The placeholder Pulumi puts in an input whose value is not known yet during
 * a preview (`unknownValue` in @pulumi/pulumi runtime/rpc). Such inputs are
 * checked again when the real value arrives, so they are skipped here.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export class InputChecker {
  readonly failures: CheckFailure[] = [];

  constructor(private readonly inputs: Record<string, unknown>) {}

  text(name: string, { optional = false, allowEmpty = false } = {}): this {
    const value = this.inputs[name];
    if (value === UNKNOWN || (optional && (value === undefined || value === null))) return this;
    if (typeof value !== "string") return this.fail(name, "must be a string");
    if (!allowEmpty && value.trim() === "") return this.fail(name, "must not be empty");
    return this;
  }

  oneOf(name: string, allowed: readonly string[], { optional = false } = {}): this {
    const value = this.inputs[name];
    if (value === UNKNOWN || (optional && value === undefined)) return this;
    if (typeof value !== "string" || !allowed.includes(value)) {
      return this.fail(name, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
    }
    return this;
  }

  integer(name: string, min: number, max: number): this {
    const value = this.inputs[name];
    if (value === UNKNOWN) return this;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      return this.fail(name, `must be a whole number from ${min} to ${max}`);
    }
    return this;
  }

  flag(name: string, { optional = false } = {}): this {
    const value = this.inputs[name];
    if (value === UNKNOWN || typeof value === "boolean" || (optional && value === undefined)) return this;
    return this.fail(name, "must be true or false");
  }

  texts(name: string): this {
    const value = this.inputs[name];
    if (value === UNKNOWN) return this;
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
      return this.fail(name, "must be a list of strings");
    }
    return this;
  }

  fail(name: string, reason: string): this {
    this.failures.push({ property: name, reason });
    return this;
  }

  result<I>(inputs: I): { inputs: I; failures?: CheckFailure[] } {
    return this.failures.length > 0 ? { inputs, failures: this.failures } : { inputs };
  }
}
