// A short-lived token for smoke tests, signed with the stack's JWT secret.
// Every token minted here (and by npm run dev and npm run local) expires: the
// API refuses one without `exp`.
import { SignJWT } from "jose";
import type { Target } from "../target.js";

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
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(claims.ttl);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

export async function token(target: Target, subject: string, ttl: string): Promise<number> {
  console.log(await signToken(target.jwtSecret(), { subject, ttl, ...target.jwtClaims() }));
  return 0;
}
