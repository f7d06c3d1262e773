// `ops token`: a short-lived token for smoke tests, signed with the stack's
// current JWT secret (sign-token.ts), no longer-lived than the API accepts.
import ms from "ms";
import { signToken } from "../sign-token.js";
import { OpsError } from "../ops-error.js";
import type { Target } from "../target.js";

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
