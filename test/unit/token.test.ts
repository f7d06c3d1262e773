// Tokens minted by the project's scripts (ops token, npm run dev, npm run
// local) pass the API's own checks, `exp` always and iss/aud when required.
import type { FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createAuthenticator } from "../../app/src/http/auth.js";
import { jwtKeySet } from "../../app/src/auth/jwt-keys.js";
import { signToken } from "../../scripts/ops/sign-token.js";
import { resolveTarget } from "../../scripts/ops/target.js";

const SECRET = "unit-test-secret-that-is-long-enough-0123456789";

async function userOf(token: string, required: { issuer?: string; audience?: string } = {}) {
  const request = { headers: { authorization: `Bearer ${token}` } } as unknown as FastifyRequest;
  await createAuthenticator(jwtKeySet(SECRET), { ...required, maxLifetimeMs: 24 * 3600_000 })(request);
  return request.userId;
}

describe("signToken", () => {
  it("always sets exp, from the ttl", async () => {
    const token = await signToken(SECRET, { subject: "ops", ttl: "1h" });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims).not.toHaveProperty("iss");
    expect(claims).not.toHaveProperty("aud");
    expect(await userOf(token)).toBe("ops");
  });

  it("sets the issuer and audience the API requires", async () => {
    const required = { issuer: "https://login.example.test/", audience: "chat-api" };
    const token = await signToken(SECRET, { subject: "ops", ttl: "5m", ...required });
    expect(await userOf(token, required)).toBe("ops");
    const without = await signToken(SECRET, { subject: "ops", ttl: "5m" });
    await expect(userOf(without, required)).rejects.toMatchObject({ statusCode: 401 });
  });

  it("takes the issuer and audience for ops token from OPS_JWT_ISSUER and OPS_JWT_AUDIENCE for a named server", () => {
    // The key is only read, never used: no connection is made.
    const server = (env: NodeJS.ProcessEnv) => resolveTarget({ host: "203.0.113.7", key: import.meta.filename }, env);
    expect(server({ OPS_JWT_ISSUER: "i", OPS_JWT_AUDIENCE: "a" }).jwtClaims()).toEqual({ issuer: "i", audience: "a" });
    expect(server({ OPS_JWT_ISSUER: "" }).jwtClaims()).toEqual({ issuer: undefined, audience: undefined });
  });
});
