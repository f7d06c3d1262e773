// The HS256 secrets the API accepts tokens from, by key id: the current one
// (JWT_SECRET) and, while a rotation's overlap lasts, the previous one
// (JWT_PREVIOUS_SECRET, until JWT_PREVIOUS_SECRET_UNTIL). A token names its
// key in the `kid` header; a token without one (issuers from before key ids)
// is tried against each key. The API signs nothing: `npm run ops -- token`
// and your issuer sign with the current key and put its id in `kid`.
import { createHash } from "node:crypto";

export interface JwtKey {
  kid: string;
  secret: Uint8Array;
  /** Tokens signed with it are refused from this time on (ms since the epoch); unset: while it is configured. */
  retiresAt?: number;
}

/**
 * A key's id: from the secret itself, so it needs no setting of its own and
 * an issuer and the API always agree on it. A hash prefix, which tells
 * nothing usable about a random 32+ character secret.
 */
export function jwtKeyId(secret: string): string {
  return `k${createHash("sha256").update(`platform jwt key id\0${secret}`).digest("base64url").slice(0, 10)}`;
}

export function jwtKeySet(current: string, previous?: { secret: string; until?: number }): JwtKey[] {
  const encode = (s: string) => new TextEncoder().encode(s);
  const keys: JwtKey[] = [{ kid: jwtKeyId(current), secret: encode(current) }];
  if (previous && previous.secret !== current)
    keys.push({ kid: jwtKeyId(previous.secret), secret: encode(previous.secret), retiresAt: previous.until });
  return keys;
}

export type KeyChoice = { keys: JwtKey[] } | { problem: string };

/** The keys a token may be checked against, or why none may. */
export function keysForToken(kid: unknown, keys: readonly JwtKey[], now: number): KeyChoice {
  const live = keys.filter((k) => k.retiresAt === undefined || now < k.retiresAt);
  if (kid === undefined) return { keys: live };
  const named = keys.find((k) => k.kid === kid);
  if (!named) return { problem: "The token's `kid` names a key this API does not know: sign it with the current key." };
  if (!live.includes(named))
    return {
      problem: `The token's key (\`kid\` ${named.kid}) was retired at ${new Date(named.retiresAt!).toISOString()}: get a new token.`,
    };
  return { keys: [named] };
}
