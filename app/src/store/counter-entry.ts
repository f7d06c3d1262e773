// The stored form of a shared counter's entry (shared-counters.ts): a small
// JSON object of whole numbers, readable with `nats kv get`. Anything else
// found under a key (another version's entry, a hand edit) reads as no entry,
// and the counter starts over.

/** "count": a whole number, never negative; "integer": any whole number (an epoch time). */
export type FieldKind = "count" | "integer";

/** The fields of `text` as numbers, or null unless it is an object holding each, of its kind. */
export function readWholeNumbers<Field extends string>(
  text: string,
  fields: Record<Field, FieldKind>,
): Record<Field, number> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const read = {} as Record<Field, number>;
  for (const [field, kind] of Object.entries(fields) as Array<[Field, FieldKind]>) {
    const n = (value as Record<string, unknown>)[field];
    if (!Number.isSafeInteger(n) || (kind === "count" && (n as number) < 0)) return null;
    read[field] = n as number;
  }
  return read;
}
