import { SignJWT } from "jose";
import { TEST_JWT_SECRET } from "./api.js";

export interface TokenOptions {
  secret?: string;
  /** Default 1h; null leaves `exp` out, as a careless issuer would. */
  expiresIn?: string | number | null;
  notBefore?: string | number;
  issuer?: string;
  audience?: string | string[];
  /** The `kid` header; unset: none, as issuers from before key ids sign. */
  kid?: string;
  /** The `iat` claim; default now, null leaves it out. */
  issuedAt?: number | null;
}

export async function tokenFor(sub: string, options: TokenOptions = {}): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", ...(options.kid ? { kid: options.kid } : {}) })
    .setSubject(sub);
  if (options.issuedAt !== null) jwt = jwt.setIssuedAt(options.issuedAt);
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(options.expiresIn ?? "1h");
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}
