// The longest a token may live (JWT_MAX_LIFETIME). A token that claims to
// be valid for years (`exp` in 9999) is as good as one that never expires:
// a leak could not be waited out, a JWT key rotation could never end, and a
// revocation would have to be kept forever. So `exp` may be at most the
// maximum after `iat`, and at most the maximum from now (a token without
// `iat`, or with one in the future).
import ms from "ms";

/** The longest JWT_MAX_LIFETIME may be: revocations are kept a little longer (store/revocations.ts). */
export const MAX_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;

/** Clock skew allowed between the issuer and the API, in seconds (as for `exp` and `nbf`). */
export const CLOCK_TOLERANCE_S = 5;

export function lifetimeProblem(
  claims: { exp: number; iat?: number },
  maxLifetimeMs: number,
  nowMs: number,
): string | undefined {
  const maxS = maxLifetimeMs / 1000;
  const limit = `this API's maximum token lifetime, JWT_MAX_LIFETIME (${ms(maxLifetimeMs, { long: true })})`;
  if (typeof claims.iat === "number" && claims.exp - claims.iat > maxS + CLOCK_TOLERANCE_S)
    return `The token's \`exp\` is ${span(claims.exp - claims.iat)} after its \`iat\`, longer than ${limit}: sign tokens that expire sooner.`;
  const left = claims.exp - nowMs / 1000;
  if (left > maxS + CLOCK_TOLERANCE_S)
    return `The token's \`exp\` is ${span(left)} from now, further than ${limit}: sign tokens that expire sooner.`;
  return undefined;
}

function span(seconds: number): string {
  return seconds > 1e9 ? "centuries" : ms(Math.round(seconds) * 1000, { long: true });
}
