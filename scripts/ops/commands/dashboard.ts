// `npm run ops -- dashboard`: a tunnel from this machine's loopback to the
// host's Prometheus (127.0.0.1:9090 there, never opened to the network),
// checked end to end before its address is printed, and kept until Ctrl-C.
// It prints the address rather than opening a browser: no other ops command
// starts programs on the operator's desktop, and the machine running ops may
// have no browser at all.
import { MONITORING_PORTS } from "../../../infra/monitoring/prometheus-config.js";
import { dashboardUrl, listenError, notServedError, tunnelBanner, unreachableError } from "../dashboard.js";
import { openTunnel, type Tunnel } from "../tunnel.js";
import type { Target } from "../target.js";

export interface DashboardOptions {
  /** The tunnel's port here; undefined: any free one. */
  localPort?: number;
  /** Prometheus's port on the host; tests point it at theirs. */
  remotePort?: number;
  /** When to close the tunnel; by default at Ctrl-C (or SIGTERM). */
  until?: Promise<unknown>;
  /** Where the address goes; by default standard output. */
  print?: (text: string) => void;
}

export async function dashboard(target: Target, options: DashboardOptions = {}): Promise<number> {
  const remotePort = options.remotePort ?? MONITORING_PORTS.prometheus;
  // One connection first: an unreachable host or a stopped Prometheus is said
  // here, once, not as a failure of every request the browser makes.
  try {
    (await target.transport.connect(remotePort)).destroy();
  } catch (error) {
    throw unreachableError(target.description, remotePort, error);
  }
  let tunnel: Tunnel;
  try {
    tunnel = await openTunnel(target.transport, remotePort, options.localPort ?? 0);
  } catch (error) {
    throw listenError(error, options.localPort);
  }
  try {
    const response = await fetch(dashboardUrl(tunnel.port), { signal: AbortSignal.timeout(15_000) }).catch(
      (error: unknown) => {
        throw unreachableError(target.description, remotePort, error);
      },
    );
    await response.body?.cancel();
    if (response.status !== 200) throw notServedError(target.description, response.status);
    (options.print ?? console.log)(tunnelBanner(target.description, tunnel.port));
    await (options.until ?? interrupted());
    return 0;
  } finally {
    await tunnel.close();
  }
}

/** Resolves at the first Ctrl-C or SIGTERM, which then no longer end the process by themselves. */
function interrupted(): Promise<void> {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const done = () => {
      for (const signal of signals) process.off(signal, done);
      resolve();
    };
    for (const signal of signals) process.on(signal, done);
  });
}
