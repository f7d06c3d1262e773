import { loadTemplates } from "../../../infra/host/templates.js";
import { logsCommand, type LogOptions } from "../host-commands.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

export async function logs(target: Target, options: LogOptions): Promise<number> {
  await runOnHost(target.transport, "logs", logsCommand(loadTemplates(), target.paths, options, target.local), {
    stream: true,
  });
  return 0;
}
