// Where each record lives. Every subject is built here from checked ids: an
// id ends up in a subject, and anything but a UUID could widen a filter
// (`*`, `>`) or break the subject.
import { createHash } from "node:crypto";

export const CONVERSATIONS_STREAM = "CONVERSATIONS";
export const CONVERSATIONS_BUCKET = "conversations";
export const CONTEXTS_BUCKET = "conversation-contexts";
/**
 * Answers' leases: a key per slot of a user, held by an answer's generator
 * for GENERATION_LEASE and renewed while it runs. The bucket keeps the name
 * it has on deployed servers (and in their backups' lists of what is never
 * restored): renaming it would leave every running answer's lease behind.
 */
export const ANSWER_LEASES_BUCKET = "active-answers";
/** What versions before ANSWER_LEASES_BUCKET used for the same purpose (one key per answer). */
export const LEGACY_LEASES_BUCKET = "generation-leases";
/** Core NATS (not stored): tells every instance to stop a conversation's answers. */
export const STOP_SUBJECT_PREFIX = "chat.stop";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isId(value: string): boolean {
  return UUID.test(value);
}

export function assertId(id: string): string {
  if (!UUID.test(id)) throw new Error(`invalid id for a subject: ${JSON.stringify(id)}`);
  return id;
}

/** Owners are hashed: a JWT `sub` may hold characters NATS subjects forbid. */
export function ownerKey(subject: string): string {
  return "u" + createHash("sha256").update(subject).digest("hex").slice(0, 40);
}

export const subjects = {
  /** Everything a conversation has in the log. */
  conversation: (cid: string) => `conv.${assertId(cid)}.>`,
  /** Every user's message of a conversation. */
  userMessages: (cid: string) => `conv.${assertId(cid)}.msg.*`,
  /** A user's message, filed under the answer it starts. */
  userMessage: (cid: string, rid: string) => `conv.${assertId(cid)}.msg.${assertId(rid)}`,
  /** Batches of an answer's events while it is generated. */
  liveEvents: (cid: string, rid: string) => `conv.${assertId(cid)}.live.${assertId(rid)}`,
  /** The compacted answer. */
  answer: (cid: string, rid: string) => `conv.${assertId(cid)}.ans.${assertId(rid)}`,
  /** Single events written by versions before the compacted store. */
  legacyEvents: (cid: string, rid: string) => `conv.${assertId(cid)}.evt.${assertId(rid)}`,
  stop: (cid: string) => `${STOP_SUBJECT_PREFIX}.${assertId(cid)}`,
};

export const keys = {
  conversation: (owner: string, cid: string) => `${ownerKey(owner)}.${assertId(cid)}`,
  conversationsOf: (owner: string) => `${ownerKey(owner)}.*`,
  context: (cid: string) => assertId(cid),
  answerSlot: (owner: string, slot: number) => `${ownerKey(owner)}.${slot}`,
};
