// `ops alerts` and `ops silence`: the host's Alertmanager through the tunnel;
// what to show and what to send is decided in ../alerts.ts.
import { terminalSafe } from "../../../infra/host/runner/terminal-safe.js";
import { formatAlerts, silenceBody, type SilenceRequest } from "../alerts.js";
import { ALERTMANAGER_PORT, withAlertmanager } from "../alertmanager-client.js";
import type { Target } from "../target.js";

export async function alerts(target: Target, json: boolean, port = ALERTMANAGER_PORT): Promise<number> {
  const list = await withAlertmanager(target, (api) => api.alerts(), port);
  // Summaries come from rule files and alert senders: printed terminal-safe.
  console.log(
    terminalSafe(
      json
        ? JSON.stringify({ target: target.description, alerts: list }, null, 2)
        : `${target.description}\n${formatAlerts(list, new Date())}`,
    ),
  );
  return 0;
}

export async function silence(
  target: Target,
  request: SilenceRequest,
  actor: string,
  port = ALERTMANAGER_PORT,
): Promise<number> {
  const body = silenceBody(request, actor, new Date());
  await withAlertmanager(
    target,
    async (api) => {
      const firing = (await api.alerts()).some((alert) => alert.name === request.alertname);
      const id = await api.createSilence(body);
      console.log(`silenced ${request.alertname} until ${body.endsAt} (silence ${id}, by ${actor})`);
      if (!firing)
        console.warn(
          `note: no alert named ${request.alertname} is firing now; the silence holds if one starts before it ends. ` +
            "Check the name with npm run ops -- alerts",
        );
    },
    port,
  );
  return 0;
}
