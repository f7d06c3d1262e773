import { SignJWT } from "jose";
import { TEST_JWT_SECRET } from "./api.js";

export async function tokenFor(
  sub: string,
  options: { secret?: string; expiresIn?: string | number; notBefore?: string | number } = {},
): Promise<string> {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt();
  jwt = jwt.setExpirationTime(options.expiresIn ?? "1h");
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A token with `alg: none`, as an attacker would forge one. */
export function unsignedToken(sub: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}
