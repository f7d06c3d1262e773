// `npm run ops -- rotate jwt|nats|llm`: carries out the phases of
// scripts/ops/rotation.ts, each in the same order: the new secrets stored in
// the stack (so the next `pulumi up` keeps them), then the stack step run on
// the host with them (a NATS config change is a live reload; a changed .env
// restarts the API instances one at a time, each draining its streams first),
// which writes the phase to the host's audit log.
import { setTimeout as sleep } from "node:timers/promises";
import { jwtKeyId } from "../../../app/src/auth/jwt-keys.js";
import { stackStep } from "../../../infra/host/steps.js";
import { loadTemplates } from "../../../infra/host/templates.js";
import { natsConnectionsCommand, shippedReleaseCommand } from "../host-commands.js";
import { rotationPhases, type RotationOptions, type SecretKind } from "../rotation.js";
import { OpsError } from "../ops-error.js";
import type { Target } from "../target.js";
import { runOnHost, runStep } from "../../../infra/host/runner/run.js";

/** How long the last phase of a NATS rotation waits for clients still on the old users (a backup running). */
const OLD_USERS_WAIT_MS = 10 * 60_000;

export async function rotate(
  target: Target,
  kind: SecretKind,
  options: Omit<RotationOptions, "now">,
  actor: string,
  log: (line: string) => void = console.log,
): Promise<number> {
  const stack = target.stack;
  if (!stack)
    throw new OpsError(
      "rotate keeps the new secret in the stack, and a server named by --host has none here: run it with the stack (--stack NAME)",
    );
  const current = stack.read();
  const phases = rotationPhases(kind, current, { ...options, now: Date.now() });
  const templates = loadTemplates();
  const release = (
    await runOnHost(target.transport, "reading the shipped release", shippedReleaseCommand(templates, target.paths))
  ).trim();
  for (const [index, phase] of phases.entries()) {
    log(`rotate ${kind}, step ${index + 1} of ${phases.length}: ${phase.description}`);
    if (phase.waitUntilNoNatsUsersOf) await waitForOldNatsUsers(target, phase.waitUntilNoNatsUsersOf, log);
    stack.save(phase.secrets);
    log(`  stored in ${stack.description}`);
    const output = await runStep(
      target.transport,
      stackStep(templates, { ...stack.read(), ...phase.secrets }, release, target.paths, actor, {
        action: "rotate",
        detail: phase.audit,
      }),
    );
    for (const line of output.split("\n").filter((l) => /NATS|installed|api-\d/.test(l))) log(`  ${line}`);
    log(`  done; in the audit log: ${phase.audit}`);
  }
  if (kind === "jwt" && !options.finish)
    log(
      `Sign new tokens with key ${jwtKeyId(options.value)} (npm run ops -- token does): give your issuer the new jwtSecret ` +
        `(npm run pulumi -- config get jwtSecret) and the key id in the \`kid\` header. ` +
        "When the overlap is over: npm run ops -- rotate jwt --finish",
    );
  return 0;
}

/** The users a key id names, connected now (/connz with auth). */
export function connectedUsersOf(connz: unknown, kid: string): string[] {
  const connections = (connz as { connections?: Array<{ authorized_user?: string; name?: string }> }).connections ?? [];
  return connections
    .filter((c) => c.authorized_user?.endsWith(`-${kid}`))
    .map((c) => `${c.authorized_user}${c.name ? ` (${c.name})` : ""}`);
}

async function waitForOldNatsUsers(target: Target, kid: string, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + OLD_USERS_WAIT_MS;
  for (let said = false; ; said = true) {
    const connz = JSON.parse(
      await runOnHost(
        target.transport,
        "reading NATS's connections",
        natsConnectionsCommand(loadTemplates(), target.paths),
      ),
    ) as unknown;
    const still = connectedUsersOf(connz, kid);
    if (still.length === 0) return;
    if (Date.now() > deadline)
      throw new OpsError(
        `NATS clients still use the old users after ${OLD_USERS_WAIT_MS / 60_000} minutes: ${still.join(", ")}. ` +
          "The old users stay until they are gone: run npm run ops -- rotate nats again to finish",
      );
    if (!said) log(`  waiting for clients on the old users to finish: ${still.join(", ")}`);
    await sleep(2000);
  }
}
