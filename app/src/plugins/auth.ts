// Bearer JWTs, HS256 only: `alg: none` and every other algorithm are refused
// by construction. `sub` names the user, and the user owns what they create.
// Every token must expire: a leaked token without `exp` would work forever,
// and the only way to end it would be a new JWT_SECRET for everyone.
import type { FastifyRequest } from "fastify";
import { errors, jwtVerify } from "jose";
import { HttpError } from "./errors.js";

declare module "fastify" {
  interface FastifyRequest {
    userId: string;
  }
}

export interface AuthenticatorOptions {
  /** The `iss` every token must carry (JWT_ISSUER); unset: not checked. */
  issuer?: string;
  /** The `aud` every token must carry (JWT_AUDIENCE); unset: not checked. */
  audience?: string;
}

// The scheme name is case-insensitive (RFC 7235, section 2.1).
const BEARER = /^Bearer\s+([A-Za-z0-9_.-]+)\s*$/i;

export function createAuthenticator(secret: string, options: AuthenticatorOptions = {}) {
  const key = new TextEncoder().encode(secret);
  const verifyOptions = {
    algorithms: ["HS256"],
    clockTolerance: 5,
    requiredClaims: ["exp"],
    issuer: options.issuer,
    audience: options.audience,
  };
  const verified = new VerifiedTokens();
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const match = request.headers.authorization?.match(BEARER);
    if (!match?.[1]) {
      throw unauthorized("Send an Authorization: Bearer <JWT> header.");
    }
    const known = verified.get(match[1]);
    if (known) {
      request.userId = known;
      return;
    }
    try {
      const { payload } = await jwtVerify(match[1], key, verifyOptions);
      if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
        throw unauthorized("The token has no usable `sub` claim.");
      }
      verified.add(match[1], payload.sub, payload.exp! * 1000);
      request.userId = payload.sub;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof errors.JWTExpired) throw unauthorized("The token has expired.");
      if (err instanceof errors.JWTClaimValidationFailed) throw unauthorized(claimProblem(err.claim, err.reason));
      throw unauthorized("The token is not valid.");
    }
  };
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
class VerifiedTokens {
  private readonly tokens = new Map<string, { sub: string; expiresAt: number }>();

  constructor(private readonly capacity = 10_000) {}

  get(token: string): string | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (Date.now() >= entry.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    return entry.sub;
  }

  add(token: string, sub: string, expiresAt: number): void {
    this.tokens.set(token, { sub, expiresAt });
    if (this.tokens.size > this.capacity) this.tokens.delete(this.tokens.keys().next().value!);
  }
}
