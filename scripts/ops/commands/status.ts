import { loadTemplates } from "../../../infra/host/templates.js";
import { statusCommand } from "../host-commands.js";
import { formatStatus, parseStatus } from "../parse.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

export async function status(target: Target, json: boolean): Promise<number> {
  const output = await runOnHost(
    target.transport,
    "status",
    statusCommand(loadTemplates(), target.paths, target.local),
  );
  const parsed = parseStatus(output);
  console.log(
    json
      ? JSON.stringify({ target: target.description, ...parsed }, null, 2)
      : formatStatus(target.description, parsed),
  );
  // Non-zero when the API does not answer through Caddy: scripts and monitors can rely on it.
  return parsed.health.httpStatus === 200 ? 0 : 2;
}
