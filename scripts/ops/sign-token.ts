// A token the API accepts, signed with a JWT secret, its key id in the `kid`
// header. Every token minted here (by ops token, npm run dev and npm run
// local) expires: the API refuses one without `exp`, or one that lives
// longer than JWT_MAX_LIFETIME.
import { SignJWT } from "jose";
import { jwtKeyId } from "../../app/src/auth/jwt-keys.js";

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
