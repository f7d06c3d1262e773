// What a secret's rotation does, as data: the phases, each the stack's
// secrets as they must be after it, what the host's audit log says, and what
// must be true before it runs. The command (commands/rotate.ts) stores each
// phase's secrets in the stack and applies them with the stack step, whose
// rolling restart cuts no stream.
import ms from "ms";
import { jwtKeyId } from "../../app/src/auth/jwt-keys.js";
import { natsKeyId } from "../../infra/host/nats-users.js";
import type { StackSettings } from "../../infra/host/steps.js";
import { OpsError } from "./ops-error.js";

export const SECRET_KINDS = ["jwt", "nats", "llm"] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

/** The stack's secrets a rotation changes. */
export type StackSecrets = Pick<
  StackSettings,
  "natsToken" | "natsPreviousToken" | "jwtSecret" | "jwtPreviousSecret" | "llmApiKey"
>;

export interface RotationPhase {
  /** Said before the phase runs. */
  description: string;
  secrets: StackSecrets;
  /** The host's audit log line (action "rotate"). */
  audit: string;
  /** Before the phase: no NATS client may still be logged in with this secret's users (its key id). */
  waitUntilNoNatsUsersOf?: string;
}

export interface RotationOptions {
  now: number;
  /** How long the previous JWT key is still accepted: the longest a token may live (JWT_MAX_LIFETIME). */
  overlapMs: number;
  /** `rotate jwt --finish`: remove the previous key. */
  finish: boolean;
  /** `--now`: no overlap (a leaked key): tokens of the old key are refused at once. */
  immediately: boolean;
  /** The new value: generated (jwt, nats) or given by the operator (llm). */
  value: string;
}

export function rotationPhases(kind: SecretKind, current: StackSecrets, o: RotationOptions): RotationPhase[] {
  switch (kind) {
    case "jwt":
      return o.finish ? finishJwt(current, o) : startJwt(current, o);
    case "nats":
      return rotateNats(current, o);
    case "llm":
      if (o.value === current.llmApiKey) throw new OpsError("rotate llm: that is the key the stack has already");
      return [
        {
          description: "the new LLM key into the stack, then the API instances one at a time onto it",
          secrets: { ...current, llmApiKey: o.value },
          audit: "llm: API key replaced; the API instances use the new one",
        },
      ];
  }
}

function startJwt(current: StackSecrets, o: RotationOptions): RotationPhase[] {
  const oldKid = jwtKeyId(current.jwtSecret);
  const newKid = jwtKeyId(o.value);
  if (current.jwtPreviousSecret && !o.immediately)
    throw new OpsError(
      `a JWT rotation is still in its overlap (key ${jwtKeyId(current.jwtPreviousSecret.secret)} accepted until ` +
        `${current.jwtPreviousSecret.until ?? "it is removed"}): end it first with npm run ops -- rotate jwt --finish`,
    );
  if (o.immediately)
    return [
      {
        description: `key ${newKid} replaces ${oldKid} at once (no overlap): every token of the old key is refused`,
        secrets: { ...current, jwtSecret: o.value, jwtPreviousSecret: undefined },
        audit: `jwt: key ${newKid} replaced ${oldKid} with no overlap`,
      },
    ];
  const until = new Date(o.now + o.overlapMs).toISOString().replace(/\.\d+Z$/, "Z");
  return [
    {
      description:
        `key ${newKid} becomes the signing key; ${oldKid} is still accepted until ${until} ` +
        `(${ms(o.overlapMs, { long: true })}, the longest a token lives); the API instances restart one at a time`,
      secrets: { ...current, jwtSecret: o.value, jwtPreviousSecret: { secret: current.jwtSecret, until } },
      audit: `jwt: key ${newKid} added; ${oldKid} accepted until ${until}`,
    },
  ];
}

function finishJwt(current: StackSecrets, o: RotationOptions): RotationPhase[] {
  const previous = current.jwtPreviousSecret;
  if (!previous) throw new OpsError("no JWT rotation to finish: the stack has no previous key");
  const kid = jwtKeyId(previous.secret);
  if (previous.until && Date.parse(previous.until) > o.now && !o.immediately)
    throw new OpsError(
      `key ${kid} is accepted until ${previous.until}: tokens signed before the rotation may still be in use. ` +
        "Finish then, or now with --now (those tokens are refused)",
    );
  return [
    {
      description: `key ${kid} removed; the API instances restart one at a time`,
      secrets: { ...current, jwtPreviousSecret: undefined },
      audit: `jwt: key ${kid} removed`,
    },
  ];
}

function rotateNats(current: StackSecrets, o: RotationOptions): RotationPhase[] {
  // A rotation cut off between its phases is finished, not started again.
  const interrupted = current.natsPreviousToken;
  const old = interrupted ?? current.natsToken;
  const next = interrupted ? current.natsToken : o.value;
  const [oldKid, newKid] = [natsKeyId(old), natsKeyId(next)];
  const remove: RotationPhase = {
    description: `the users of ${oldKid} removed from NATS (a live reload), once no client uses them`,
    secrets: { ...current, natsToken: next, natsPreviousToken: undefined },
    audit: `nats: users of ${oldKid} removed`,
    waitUntilNoNatsUsersOf: oldKid,
  };
  if (interrupted) return [remove];
  return [
    {
      description:
        `NATS users ${newKid} added beside ${oldKid} (a live reload), then the API instances one at a time ` +
        "onto the new ones; the scheduled backup and the ops commands take them from the host's .env",
      secrets: { ...current, natsToken: next, natsPreviousToken: old },
      audit: `nats: users of ${newKid} added beside ${oldKid}; the API instances moved to them`,
    },
    remove,
  ];
}
