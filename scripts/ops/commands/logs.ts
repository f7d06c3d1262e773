import { loadTemplates } from "../../../infra/host/templates.js";
import { logsCommand, type LogOptions } from "../host-commands.js";
import type { Target } from "../target.js";
import { runOnHost } from "./run.js";

export async function logs(target: Target, options: LogOptions): Promise<number> {
  await runOnHost(target, "logs", logsCommand(loadTemplates(), target.paths, options, target.local), { stream: true });
  return 0;
}
