// One NATS connection per process, reconnecting forever: a NATS restart is a
// pause for the API, never a crash. Its state feeds /health and /metrics.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

/**
 * The API's replies arrive under this inbox prefix: the API's NATS users may
 * read it, and no other (templates/stack/nats-auth.conf).
 */
export const API_INBOX_PREFIX = "_INBOX_api";

export interface NatsHandle {
  nc: NatsConnection;
  isConnected(): boolean;
  /** Called with false when the connection drops and true when it is back. */
  onStateChange(listener: (connected: boolean) => void): void;
}

export async function connectNats(
  options: { servers: string[]; user?: string; password?: string; token?: string; name: string },
  log: Logger,
): Promise<NatsHandle> {
  log.info({ servers: options.servers, user: options.user }, "connecting to NATS");
  const nc = await connect({
    servers: options.servers,
    // Whichever are given: nats-server checks the one its config asks for.
    ...(options.user ? { user: options.user, pass: options.password } : {}),
    ...(options.token ? { token: options.token } : {}),
    inboxPrefix: API_INBOX_PREFIX,
    name: options.name,
    // Keep trying at start-up too: compose may start us before NATS listens.
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 5_000,
    // Every request and publish would otherwise build two Error objects
    // (with stack traces) up front, in case it fails: about 7 % of the API's
    // CPU under load. Failures still say what failed.
    noAsyncTraces: true,
  });
  let connected = true;
  const listeners: Array<(connected: boolean) => void> = [];
  const onStateChange = (up: boolean) => listeners.forEach((listener) => listener(up));
  log.info({ server: nc.getServer() }, "connected to NATS");

  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "staleConnection") {
        if (connected) log.warn({ status: status.type }, "NATS connection lost");
        connected = false;
        onStateChange(false);
      } else if (status.type === "reconnect") {
        connected = true;
        onStateChange(true);
        log.info({ server: nc.getServer() }, "NATS connection restored");
      }
    }
  })();

  return {
    nc,
    isConnected: () => connected && !nc.isClosed(),
    onStateChange: (listener) => void listeners.push(listener),
  };
}
