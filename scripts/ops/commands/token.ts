// A short-lived token for smoke tests, signed with the stack's current JWT
// secret, its key id in the `kid` header. Every token minted here (and by npm
// run dev and npm run local) expires: the API refuses one without `exp`, or
// one that lives longer than JWT_MAX_LIFETIME.
import { SignJWT } from "jose";
import ms from "ms";
import { jwtKeyId } from "../../../app/src/http/jwt-keys.js";
import { OpsError, type Target } from "../target.js";

export interface TokenClaims {
  subject: string;
  /** How long the token is valid, e.g. "1h" (jose's time span format). */
  ttl: string;
  /** Required when the API has JWT_ISSUER / JWT_AUDIENCE. */
  issuer?: string;
  audience?: string;
}

export async function signToken(secret: string, claims: TokenClaims): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", kid: jwtKeyId(secret) })
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(claims.ttl);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** The API's default JWT_MAX_LIFETIME (app/src/config/env.ts). */
const DEFAULT_MAX_LIFETIME = "24h";

export async function token(target: Target, subject: string, ttl: string): Promise<number> {
  const max = target.jwtMaxLifetime?.() || DEFAULT_MAX_LIFETIME;
  const [ttlMs, maxMs] = [ms(ttl as ms.StringValue), ms(max as ms.StringValue)];
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new OpsError(`--ttl ${ttl}: give a duration, e.g. 1h`);
  if (ttlMs > maxMs)
    throw new OpsError(
      `--ttl ${ttl} is longer than the API accepts (jwtMaxLifetime, JWT_MAX_LIFETIME: ${max}): give at most ${max}`,
    );
  console.log(await signToken(target.jwtSecret(), { subject, ttl, ...target.jwtClaims() }));
  return 0;
}
