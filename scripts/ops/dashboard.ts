// `npm run ops -- dashboard`: the decisions, as plain functions: which local
// port (the flag's, or any free one), the dashboard's address on it, and what
// an operator is told when the port is taken or the host's Prometheus cannot
// be reached. scripts/ops/commands/dashboard.ts only carries them out.
import { OpsError } from "./ops-error.js";

/** Where Prometheus serves the console the monitoring step installs (templates/host/monitoring/dashboard.html). */
export const DASHBOARD_PATH = "/consoles/dashboard.html";

/** --local-port: a port number to listen on here, or undefined for any free one. */
export function parseLocalPort(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port < 1 || port > 65535)
    throw new OpsError(
      `--local-port ${value}: give a port number from 1 to 65535 (e.g. 9090), or leave it out for a free one`,
    );
  return port;
}

export function dashboardUrl(localPort: number): string {
  return `http://127.0.0.1:${localPort}${DASHBOARD_PATH}`;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The tunnel's local end could not listen. */
export function listenError(error: unknown, localPort: number | undefined): OpsError {
  const code = (error as { code?: string }).code;
  if (code === "EADDRINUSE")
    return new OpsError(
      `port ${localPort} on this machine is taken by another program: choose another with --local-port N, ` +
        "or leave --local-port out for a free one",
    );
  if (code === "EACCES")
    return new OpsError(`port ${localPort} needs privileges here: choose one above 1023 with --local-port N`);
  return new OpsError(`the tunnel could not listen on 127.0.0.1:${localPort ?? 0}: ${message(error)}`);
}

/** The host, or Prometheus on it, could not be reached through SSH. */
export function unreachableError(where: string, remotePort: number, error: unknown): OpsError {
  return new OpsError(
    `Prometheus on ${where} (127.0.0.1:${remotePort} there) could not be reached: ${message(error)}. ` +
      "Check the host answers (npm run ops -- status) and runs Prometheus (npm run ops -- ssh systemctl status prometheus); " +
      "the monitoring step installs it (npm run up)",
  );
}

/** Prometheus answered, but not with the dashboard. */
export function notServedError(where: string, httpStatus: number): OpsError {
  return new OpsError(
    `Prometheus on ${where} answered HTTP ${httpStatus} for ${DASHBOARD_PATH}: ` +
      "the dashboard is not installed there yet; deploy the monitoring step with npm run up",
  );
}

/** What the operator reads once the tunnel is up. */
export function tunnelBanner(where: string, localPort: number): string {
  return [
    `Dashboard of ${where}, through an SSH tunnel to its Prometheus:`,
    "",
    `  ${dashboardUrl(localPort)}`,
    "",
    `Open it in a browser here (Prometheus itself: http://127.0.0.1:${localPort}/). Ctrl-C closes the tunnel.`,
  ].join("\n");
}
