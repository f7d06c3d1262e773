// Comparing old state with new inputs, the same way for every kind: which
// inputs changed, and whether any of them forces a new resource.
import type { DiffResult } from "./provider.js";

export interface DiffRules<I> {
  /** Inputs the API cannot change on an existing resource. */
  replace: readonly (keyof I & string)[];
  /** Inputs changed in place by an update call (or only recorded). */
  update: readonly (keyof I & string)[];
  /** List inputs whose order means nothing to Vultr (tags, key ids). */
  unordered?: readonly (keyof I & string)[];
}

export interface InputDiff<I> extends DiffResult {
  changed: (keyof I & string)[];
}

export function diffInputs<I extends object>(olds: Partial<I>, news: I, rules: DiffRules<I>): InputDiff<I> {
  const unordered = new Set<string>(rules.unordered ?? []);
  const differs = (key: keyof I & string) => !sameInput(olds[key], news[key], unordered.has(key));
  const changed = [...rules.replace, ...rules.update].filter(differs);
  const replaces = rules.replace.filter(differs);
  return { changes: changed.length > 0, changed, ...(replaces.length > 0 ? { replaces } : {}) };
}

/**
 * Pulumi leaves an optional input out of state when it is undefined, so a
 * missing value equals "" (or [] for a list); anything else compares by value,
 * objects (a health check, a list of rules) by their fields, whatever their order.
 */
export function sameInput(a: unknown, b: unknown, unordered = false): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const left = (Array.isArray(a) ? a : []).map(comparable);
    const right = (Array.isArray(b) ? b : []).map(comparable);
    if (unordered) {
      left.sort();
      right.sort();
    }
    return left.length === right.length && left.every((item, i) => item === right[i]);
  }
  if (isPlainObject(a) || isPlainObject(b)) return comparable(a ?? {}) === comparable(b ?? {});
  return (a ?? "") === (b ?? "");
}

/** An object with fields (not null, not a list); the load balancer's input check uses this one too. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as text, an object's fields sorted by name, so equal objects give equal text. */
function comparable(value: unknown): string {
  if (!isPlainObject(value) && !Array.isArray(value)) return String(value);
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y))) : v,
  );
}

/** Two spellings of one IP address (e.g. "2001:db8:0::1" and "2001:db8::1") are the same. */
export function sameAddress(a: string, b: string): boolean {
  return a === b || (canonicalAddress(a) ?? a) === (canonicalAddress(b) ?? b);
}

function canonicalAddress(address: string): string | undefined {
  try {
    return new URL(address.includes(":") ? `http://[${address}]/` : `http://${address}/`).hostname;
  } catch {
    return undefined;
  }
}
