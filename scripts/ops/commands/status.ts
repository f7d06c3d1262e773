import { loadTemplates } from "../../../infra/host/templates.js";
import { statusCommand } from "../host-commands.js";
import { formatStatus, parseStatus } from "../parse.js";
import { firingSummary, formatFiring, type FiringSummary } from "../alerts.js";
import { ALERTMANAGER_PORT, withAlertmanager } from "../alertmanager-client.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";
import { terminalSafe } from "../../../infra/host/runner/terminal-safe.js";

export async function status(target: Target, json: boolean, alertmanagerPort = ALERTMANAGER_PORT): Promise<number> {
  const output = await runOnHost(
    target.transport,
    "status",
    statusCommand(loadTemplates(), target.paths, target.local),
  );
  const parsed = parseStatus(output);
  // The local stack runs no monitoring; a server's Alertmanager may not answer (status still shows the rest).
  const alerts: FiringSummary | null | undefined = target.local
    ? undefined
    : await withAlertmanager(target, (api) => api.alerts(), alertmanagerPort).then(firingSummary, () => null);
  console.log(
    json
      ? JSON.stringify({ target: target.description, ...parsed, alerts }, null, 2)
      : formatStatus(target.description, parsed) +
          (alerts === undefined ? "" : `\n${terminalSafe(formatFiring(alerts))}`),
  );
  // Non-zero when the API does not answer through Caddy: scripts and monitors can rely on it.
  return parsed.health.httpStatus === 200 ? 0 : 2;
}
