// `npm run ops -- revoke USER`: every token of that user (`sub`) issued up to
// now is refused by every API instance (app/src/store/revocations.ts): a
// key-value write through the tunnel to NATS, which each instance watches.
// Audited on the host.
import { revokeUser } from "../../../app/src/store/revocations.js";
import { loadTemplates } from "../../../infra/host/templates.js";
import { auditCommand } from "../host-commands.js";
import { withNats } from "../nats.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

export async function revoke(target: Target, subject: string, actor: string): Promise<number> {
  const upTo = await withNats(target, (nc) => revokeUser(nc, subject));
  const at = new Date(upTo * 1000).toISOString();
  await runOnHost(
    target.transport,
    "writing the audit log",
    auditCommand(
      loadTemplates(),
      target.paths,
      actor,
      "revoke",
      `tokens of ${JSON.stringify(subject)} issued up to ${at}`,
    ),
  );
  console.log(
    `revoked: the tokens of ${JSON.stringify(subject)} issued up to ${at} are refused by every API instance connected to NATS ` +
      "(within a second); tokens issued after that work. The revocation is kept 31 days, longer than any token lives.",
  );
  return 0;
}
