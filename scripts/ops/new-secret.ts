// A new secret, as the toolkit makes every one (npm run local, npm run ops --
// rotate): 48 random bytes in base64url, 64 characters of A-Z, a-z, 0-9, '-'
// and '_', which every consumer reads as it is: the env file, compose, the
// API's config reader, an HMAC key. (nats-server never reads one: it gets
// bcrypt hashes, infra/host/nats-users.ts.)
import { randomBytes } from "node:crypto";

export function newSecret(): string {
  return randomBytes(48).toString("base64url");
}
