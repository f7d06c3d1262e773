// A short-lived token for smoke tests, signed with the stack's JWT secret.
import { SignJWT } from "jose";
import type { Target } from "../target.js";

export async function token(target: Target, subject: string, ttl: string): Promise<number> {
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(target.jwtSecret()));
  console.log(jwt);
  return 0;
}
