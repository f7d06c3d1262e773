import { loadTemplates } from "../../../infra/host/templates.js";
import { restartCommand, type Service } from "../host-commands.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

export async function restart(target: Target, service: Service, actor: string): Promise<number> {
  await runOnHost(
    target.transport,
    `restart ${service}`,
    restartCommand(loadTemplates(), target.paths, service, actor),
    {
      stream: true,
    },
  );
  return 0;
}
