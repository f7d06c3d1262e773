// Small generators every part of a fuzz request uses.
import fc from "fast-check";
import { USERS } from "./request-types.js";

export const user = fc.constantFrom(...USERS);

/** Undefined, except once in `oneIn` (and undefined is what it shrinks to). */
export const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
export const pick = fc.nat({ max: 1000 });

/** Characters Node's HTTP client lets into a header value. */
export const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.constant("\t") },
    ),
    maxLength,
  });
