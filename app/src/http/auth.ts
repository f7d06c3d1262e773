// Bearer JWTs, HS256 only: `alg: none` and every other algorithm are refused
// by construction. `sub` names the user, and the user owns what they create.
// Every token must expire, within JWT_MAX_LIFETIME: a leaked token without
// `exp` (or with `exp` in 9999) would work forever. Keys are chosen by `kid`
// (auth/jwt-keys.ts), so a secret can be rotated without logging everyone out,
// and a user's tokens can be revoked (store/revocations.ts).
import type { FastifyRequest } from "fastify";
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import { HttpError } from "./errors.js";
import { keysForToken, type JwtKey } from "../auth/jwt-keys.js";
import { CLOCK_TOLERANCE_S, lifetimeProblem } from "../auth/token-lifetime.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The token's `sub` once authenticated; "" before (app.ts decorates every request with it). */
    userId: string;
  }
}

export interface AuthenticatorOptions {
  /** The `iss` every token must carry (JWT_ISSUER); unset: not checked. */
  issuer?: string;
  /** The `aud` every token must carry (JWT_AUDIENCE); unset: not checked. */
  audience?: string;
  /** The longest a token may be valid (JWT_MAX_LIFETIME), in ms. */
  maxLifetimeMs: number;
  /** Up to when a user's tokens are revoked (seconds since the epoch), if they are. */
  revokedUpTo?: (subject: string) => number | undefined;
}

// The scheme name is case-insensitive (RFC 7235, section 2.1).
const BEARER = /^Bearer\s+([A-Za-z0-9_.-]+)\s*$/i;

export function createAuthenticator(keys: readonly JwtKey[], options: AuthenticatorOptions) {
  const verifyOptions = {
    algorithms: ["HS256"],
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ["exp"],
    issuer: options.issuer,
    audience: options.audience,
  };
  const verified = new VerifiedTokens();
  const revokedUpTo = options.revokedUpTo ?? (() => undefined);
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const match = request.headers.authorization?.match(BEARER);
    if (!match?.[1]) {
      throw unauthorized("Send an Authorization: Bearer <JWT> header.");
    }
    const token = match[1];
    let known = verified.get(token);
    if (!known) {
      const { payload, key } = await verify(token, keys, verifyOptions);
      if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
        throw unauthorized("The token has no usable `sub` claim.");
      }
      const tooLong = lifetimeProblem({ exp: payload.exp!, iat: payload.iat }, options.maxLifetimeMs, Date.now());
      if (tooLong) throw unauthorized(tooLong);
      // Forgotten when the token expires or its key retires, whichever comes first.
      const expiresAt = Math.min(payload.exp! * 1000, key.retiresAt ?? Infinity);
      known = { sub: payload.sub, iat: payload.iat, expiresAt };
      verified.add(token, known);
    }
    // Checked on every request, cached or not: a revocation applies at once.
    const revoked = revokedUpTo(known.sub);
    if (revoked !== undefined && (known.iat === undefined || known.iat <= revoked))
      throw unauthorized(
        `The token was revoked: this user's tokens issued up to ${new Date(revoked * 1000).toISOString()} are refused. Get a new token.`,
      );
    request.userId = known.sub;
  };
}

/** The token's claims, checked against the key its `kid` names (or, without one, each key). */
async function verify(
  token: string,
  keys: readonly JwtKey[],
  verifyOptions: Parameters<typeof jwtVerify>[2],
): Promise<{ payload: JWTPayload; key: JwtKey }> {
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw unauthorized("The token is not valid.");
  }
  const choice = keysForToken(kid, keys, Date.now());
  if ("problem" in choice) throw unauthorized(choice.problem);
  let lastError: unknown = new errors.JWSSignatureVerificationFailed();
  for (const key of choice.keys) {
    try {
      return { payload: (await jwtVerify(token, key.secret, verifyOptions)).payload, key };
    } catch (err) {
      lastError = err;
      // Another key may have signed it; any other failure is the token's own.
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) break;
    }
  }
  if (lastError instanceof errors.JWTExpired) throw unauthorized("The token has expired.");
  if (lastError instanceof errors.JWTClaimValidationFailed)
    throw unauthorized(claimProblem(lastError.claim, lastError.reason));
  throw unauthorized("The token is not valid.");
}

/** What a client must change, for the claim jose refused. */
function claimProblem(claim: string, reason: string): string {
  if (claim === "exp") return "The token has no `exp` claim; tokens must expire: sign them with an expiry time.";
  if (claim === "iss" || claim === "aud") {
    const what = claim === "iss" ? "issuer" : "audience";
    return reason === "missing"
      ? `The token has no \`${claim}\` claim; this API accepts only tokens for its ${what}.`
      : `The token's \`${claim}\` claim is not the ${what} this API accepts.`;
  }
  return `The token is not valid: ${claim} check failed.`;
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, "unauthorized", message, { "www-authenticate": 'Bearer realm="api"' });
}

/**
 * Tokens already verified, until they expire: a client sends the same token
 * with every request, and verifying its signature (WebCrypto, async) was
 * about 3 % of the API's CPU under load. Bounded; the oldest go first.
 */
interface KnownToken {
  sub: string;
  iat?: number;
  expiresAt: number;
}

class VerifiedTokens {
  private readonly tokens = new Map<string, KnownToken>();

  constructor(private readonly capacity = 10_000) {}

  get(token: string): KnownToken | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (Date.now() >= entry.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    return entry;
  }

  add(token: string, known: KnownToken): void {
    this.tokens.set(token, known);
    if (this.tokens.size > this.capacity) this.tokens.delete(this.tokens.keys().next().value!);
  }
}
