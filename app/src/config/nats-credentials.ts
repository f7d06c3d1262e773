// How the API logs in to NATS, read from the environment (env.ts calls it
// with its reader, so a bad value stops start-up with the same one line).
import { z } from "zod";
import { ConfigError } from "./values.js";

/**
 * How the API logs in to NATS: NATS_USER and NATS_PASSWORD (the stack's),
 * or NATS_TOKEN (a NATS server of your own with one token), or both (a
 * stack moving from its token to users: nats-server checks whichever its
 * config asks for).
 */
export function natsCredentials(read: <T>(name: string, schema: z.ZodType<T>, fix: string) => T) {
  const natsUser = read(
    "NATS_USER",
    z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    "use letters, digits, '-' or '_'",
  );
  const natsPassword = read(
    "NATS_PASSWORD",
    z.string().min(16).optional(),
    "set the password of NATS_USER (16+ characters; the stack's .env has it)",
  );
  const natsToken = read(
    "NATS_TOKEN",
    z.string().min(16).optional(),
    "generate one with: openssl rand -base64 32 (16+ characters)",
  );
  if ((natsUser === undefined) !== (natsPassword === undefined))
    throw new ConfigError(
      natsUser === undefined ? "NATS_USER" : "NATS_PASSWORD",
      "is not set, but its pair is; set both NATS_USER and NATS_PASSWORD",
    );
  if (natsUser === undefined && natsToken === undefined)
    throw new ConfigError(
      "NATS_TOKEN",
      "is not set; set NATS_USER and NATS_PASSWORD (the stack's .env has them), or NATS_TOKEN for a NATS server with one token (generate one with: openssl rand -base64 32)",
    );
  return { natsUser, natsPassword, natsToken };
}
