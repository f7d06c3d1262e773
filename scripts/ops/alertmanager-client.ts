// The host's Alertmanager, from the operator's machine: its port is on the
// host's loopback only, reached through the target's tunnel (an SSH tunnel
// for a server), one tunnel for the command.
import { parseAlerts, type FiringAlert } from "./alerts.js";
import { OpsError } from "./ops-error.js";
import type { Target } from "./target.js";
import { openTunnel } from "./tunnel.js";

/** Alertmanager's port on the host (127.0.0.1 only). */
export const ALERTMANAGER_PORT = 9093;

/** What a slow or wedged Alertmanager may take before the command gives up. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface AlertmanagerApi {
  /** Every alert it holds: firing, silenced and inhibited (resolved ones are gone). */
  alerts(): Promise<FiringAlert[]>;
  /** Creates a silence; its id. */
  createSilence(body: object): Promise<string>;
}

export async function withAlertmanager<T>(
  target: Target,
  use: (api: AlertmanagerApi) => Promise<T>,
  port = ALERTMANAGER_PORT,
): Promise<T> {
  const tunnel = await openTunnel(target.transport, port);
  const base = `http://127.0.0.1:${tunnel.port}/api/v2`;
  const call = async (path: string, init?: RequestInit): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      throw new OpsError(
        `Alertmanager on ${target.description} did not answer through the tunnel to 127.0.0.1:${port} ` +
          `(${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}): ` +
          "is monitoring installed there? npm run up installs it",
      );
    }
    const text = await response.text();
    if (!response.ok)
      throw new OpsError(
        `Alertmanager refused ${init?.method ?? "GET"} ${path}: HTTP ${response.status} ${text.trim()}`,
      );
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new OpsError(`Alertmanager answered ${path} with something other than JSON`);
    }
  };
  try {
    return await use({
      alerts: async () => parseAlerts(await call("/alerts?active=true&silenced=true&inhibited=true")),
      createSilence: async (body) => {
        const answer = (await call("/silences", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        })) as { silenceID?: string };
        return answer.silenceID ?? "";
      },
    });
  } finally {
    await tunnel.close();
  }
}
