// The NATS users: one per role (the API, the scheduled backup, the operator's
// ops commands), each with its own password, all derived from the stack's
// one NATS secret (natsToken). The host and each container get only the
// passwords they use; nats-server gets only their bcrypt hashes, quoted, in
// a file of their own (templates/stack/nats-auth.conf), never a secret
// through its config parser. A rotation renders the users of two secrets
// at once (the new and the previous), so every client can move to the new
// password while the old one still works.
import { createHash, createHmac } from "node:crypto";
import bcrypt from "bcryptjs";
import { natsConfigString } from "./nats-config-string.js";
import { renderTemplate, TemplateError } from "./render.js";

export const NATS_ROLES = ["api", "backup", "ops"] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

export interface NatsCredential {
  role: NatsRole;
  /** `<role>-<key id>`: two generations of a role are two users during a rotation. */
  user: string;
  /** base64url: every consumer (env file, compose, JSON) reads it as it is. */
  password: string;
}

/** The permission set of each role, a variable of templates/stack/nats-auth.conf. */
const PERMISSIONS: Record<NatsRole, string> = {
  api: "$API_PERMISSIONS",
  backup: "$BACKUP_PERMISSIONS",
  ops: "$OPS_PERMISSIONS",
};

/** A short, stable id of one natsToken, in the users' names: which secret a connection used shows in /connz. */
export function natsKeyId(natsToken: string): string {
  return createHash("sha256").update(`platform nats key id\0${natsToken}`).digest("hex").slice(0, 8);
}

/** A role's user and password for one natsToken: HMAC-SHA256, so one role's password tells nothing of another's. */
export function natsCredential(natsToken: string, role: NatsRole): NatsCredential {
  return {
    role,
    user: `${role}-${natsKeyId(natsToken)}`,
    password: createHmac("sha256", natsToken).update(`platform nats password\0${role}`).digest("base64url"),
  };
}

export function natsCredentials(natsToken: string): Record<NatsRole, NatsCredential> {
  return Object.fromEntries(NATS_ROLES.map((role) => [role, natsCredential(natsToken, role)])) as Record<
    NatsRole,
    NatsCredential
  >;
}

// The passwords are 256-bit HMACs: no dictionary attack to slow down, so
// bcrypt's usual cost is plenty, and a reload (which checks every connected
// client again) stays quick.
const BCRYPT_COST = 10;
const hashes = new Map<string, string>();

/**
 * The bcrypt hash nats-server checks a password against. The salt is made
 * from the password itself, so the same password always gives the same file:
 * a deploy that changes nothing installs nothing and reloads nothing.
 */
export function natsPasswordHash(password: string): string {
  let hash = hashes.get(password);
  if (!hash) {
    const salt = createHmac("sha256", password).update("platform nats bcrypt salt").digest().subarray(0, 16);
    hash = bcrypt.hashSync(password, `$2b$${BCRYPT_COST}$${bcrypt.encodeBase64(salt, 16)}`);
    hashes.set(password, hash);
  }
  return hash;
}

/**
 * templates/stack/nats-auth.conf with the users of each secret, the current
 * one first: during a rotation, the previous one's users too.
 */
export function renderNatsAuth(template: string, natsTokens: readonly string[]): string {
  if (natsTokens.length === 0) throw new TemplateError("stack/nats-auth.conf", "no NATS secret to make users from");
  if (new Set(natsTokens.map(natsKeyId)).size !== natsTokens.length)
    throw new TemplateError("stack/nats-auth.conf", "the same NATS secret is given twice (current and previous)");
  const users = natsTokens.flatMap((token) =>
    NATS_ROLES.map((role) => {
      const { user, password } = natsCredential(token, role);
      const quote = (name: string, value: string) => natsConfigString("stack/nats-auth.conf", name, value);
      return `{user: ${quote("user", user)}, password: ${quote("password hash", natsPasswordHash(password))}, permissions: ${PERMISSIONS[role]}}`;
    }),
  );
  return renderTemplate("stack/nats-auth.conf", template, { NATS_USERS: users.join(", ") });
}
