// The decisions behind the API's JWT checks: which key a token is checked
// against (by `kid`, and during a rotation's overlap), how long a token may
// live, and which tokens a revocation refuses.
import { describe, expect, it } from "vitest";
import { jwtKeyId, jwtKeySet, keysForToken } from "../../app/src/auth/jwt-keys.js";
import { lifetimeProblem } from "../../app/src/auth/token-lifetime.js";
import { isRevoked, revocationTime } from "../../app/src/store/revocations.js";

const OLD = "old-secret-0123456789abcdef0123456789";
const NEW = "new-secret-0123456789abcdef0123456789";
const NOW = Date.UTC(2026, 11, 6, 12);

describe("the JWT key set", () => {
  it("gives each secret a stable id of its own", () => {
    expect(jwtKeyId(OLD)).toBe(jwtKeyId(OLD));
    expect(jwtKeyId(OLD)).not.toBe(jwtKeyId(NEW));
    expect(jwtKeyId(OLD)).toMatch(/^k[A-Za-z0-9_-]{10}$/);
    expect(jwtKeyId(OLD)).not.toContain(OLD.slice(0, 6));
  });

  it("holds the current key, and the previous one with the time it retires", () => {
    const keys = jwtKeySet(NEW, { secret: OLD, until: NOW });
    expect(keys.map((k) => [k.kid, k.retiresAt])).toEqual([
      [jwtKeyId(NEW), undefined],
      [jwtKeyId(OLD), NOW],
    ]);
    expect(jwtKeySet(NEW, { secret: NEW })).toHaveLength(1);
  });

  it("checks a token against the key its `kid` names, or each live key without one", () => {
    const keys = jwtKeySet(NEW, { secret: OLD, until: NOW + 1000 });
    const kids = (choice: ReturnType<typeof keysForToken>) =>
      "keys" in choice ? choice.keys.map((k) => k.kid) : choice.problem;
    expect(kids(keysForToken(jwtKeyId(OLD), keys, NOW))).toEqual([jwtKeyId(OLD)]);
    expect(kids(keysForToken(undefined, keys, NOW))).toEqual([jwtKeyId(NEW), jwtKeyId(OLD)]);
    expect(kids(keysForToken("k-unknown", keys, NOW))).toMatch(/does not know/);
    // From the time it retires, the previous key is refused by name and no longer tried.
    expect(kids(keysForToken(jwtKeyId(OLD), keys, NOW + 1000))).toMatch(/was retired at 2026-12-06T12:00:01.000Z/);
    expect(kids(keysForToken(undefined, keys, NOW + 1000))).toEqual([jwtKeyId(NEW)]);
  });
});

describe("the maximum token lifetime", () => {
  const DAY = 24 * 3600_000;
  const s = NOW / 1000;
  it.each<[string, { exp: number; iat?: number }, RegExp | undefined]>([
    ["an hour", { iat: s, exp: s + 3600 }, undefined],
    ["a day exactly", { iat: s, exp: s + 86_400 }, undefined],
    ["a day and the clock tolerance", { iat: s, exp: s + 86_405 }, undefined],
    ["a day and 6 seconds", { iat: s, exp: s + 86_406 }, /`exp` is 1 day after its `iat`.*JWT_MAX_LIFETIME \(1 day\)/],
    ["until 9999", { iat: s, exp: Date.UTC(9999, 0, 1) / 1000 }, /centuries after its `iat`/],
    ["no iat, 2 days ahead", { exp: s + 2 * 86_400 }, /`exp` is 2 days from now/],
    ["an iat in the future", { iat: s + 10 * 86_400, exp: s + 10 * 86_400 + 60 }, /`exp` is 10 days from now/],
  ])("%s", (_name, claims, problem) => {
    const said = lifetimeProblem(claims, DAY, NOW);
    if (problem) expect(said).toMatch(problem);
    else expect(said).toBeUndefined();
  });
});

describe("a revocation", () => {
  it("refuses tokens issued up to its second, and tokens that cannot show when they were issued", () => {
    const upTo = revocationTime(NOW + 700);
    expect(upTo).toBe(NOW / 1000);
    expect(isRevoked(upTo - 100, upTo)).toBe(true);
    expect(isRevoked(upTo, upTo)).toBe(true);
    expect(isRevoked(upTo + 1, upTo)).toBe(false);
    expect(isRevoked(undefined, upTo)).toBe(true);
    expect(isRevoked(undefined, undefined)).toBe(false);
    expect(isRevoked(upTo - 100, undefined)).toBe(false);
  });
});
