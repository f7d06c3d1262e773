// The Authorization header a fuzz request sends: the two users' tokens,
// every kind of bad one, and schemes and separators near "Bearer ".
import fc from "fast-check";
import { headerText, user } from "./basics.js";
import { BAD_TOKEN_KINDS, type Auth, type TokenKind } from "./request-types.js";

const tokenKind: fc.Arbitrary<TokenKind> = fc.oneof(
  { weight: 12, arbitrary: user.map((u) => ({ kind: "valid" as const, user: u })) },
  { weight: 1, arbitrary: user.map((u) => ({ kind: "far-future" as const, user: u })) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constantFrom(...BAD_TOKEN_KINDS), user }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.stringMatching(/^[A-Za-z0-9_.-]{0,300}$/),
        headerText(100),
        fc.constantFrom("null", "undefined", "..", "eyJhbGciOiJIUzI1NiJ9..", "a.b.c", "x".repeat(8000)),
      )
      .map((value) => ({ kind: "garbage" as const, value })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
);

export const auth: fc.Arbitrary<Auth | undefined> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      scheme: fc.oneof(
        { weight: 10, arbitrary: fc.constant("Bearer") },
        { weight: 2, arbitrary: fc.constantFrom("bearer", "BEARER", "BeArEr") },
        { weight: 1, arbitrary: fc.constantFrom("Basic", "Token", "", "Bearer:", "Bearerx") },
      ),
      separator: fc.oneof({ weight: 10, arbitrary: fc.constant(" ") }, fc.constantFrom("", "  ", "\t", " \t ")),
      token: tokenKind,
    }),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
