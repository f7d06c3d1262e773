// Bearer JWTs, HS256 only: `alg: none` and every other algorithm are refused
// by construction. `sub` names the user, and the user owns what they create.
import type { FastifyRequest } from "fastify";
import { errors, jwtVerify } from "jose";
import { HttpError } from "./errors.js";

declare module "fastify" {
  interface FastifyRequest {
    userId: string;
  }
}

export function createAuthenticator(secret: string) {
  const key = new TextEncoder().encode(secret);
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer\s+([A-Za-z0-9_.-]+)\s*$/);
    if (!match?.[1]) {
      throw unauthorized("Send an Authorization: Bearer <JWT> header.");
    }
    try {
      const { payload } = await jwtVerify(match[1], key, { algorithms: ["HS256"], clockTolerance: 5 });
      if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
        throw unauthorized("The token has no usable `sub` claim.");
      }
      request.userId = payload.sub;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof errors.JWTExpired) throw unauthorized("The token has expired.");
      if (err instanceof errors.JWTClaimValidationFailed)
        throw unauthorized(`The token is not valid: ${err.claim} check failed.`);
      throw unauthorized("The token is not valid.");
    }
  };
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, "unauthorized", message, { "www-authenticate": 'Bearer realm="api"' });
}
