// The platform's NATS, from the operator's machine: the ops user's login read
// from the host's .env, its client port reached through a tunnel (it is
// published on the host's loopback only), one connection for the command.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { loadTemplates } from "../../infra/host/templates.js";
import { runOnHost } from "../../infra/host/runner/run.js";
import { natsLoginCommand } from "./host-commands.js";
import { OpsError } from "./ops-error.js";
import type { Target } from "./target.js";
import { openTunnel } from "./tunnel.js";

/** NATS's client port on the host (templates/stack/docker-compose.prod.yml publishes it on 127.0.0.1). */
export const NATS_CLIENT_PORT = 4222;

export type NatsLogin = { user: string; pass: string } | { token: string };

/** The ops user from the host's .env lines, or the token of a stack deployed before NATS had users. */
export function parseNatsLogin(lines: string): NatsLogin | undefined {
  const value = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(lines)?.[1]?.trim() || undefined;
  const user = value("NATS_OPS_USER");
  const pass = value("NATS_OPS_PASSWORD");
  if (user && pass) return { user, pass };
  const token = value("NATS_TOKEN");
  return token ? { token } : undefined;
}

export async function withNats<T>(target: Target, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const login = parseNatsLogin(
    await runOnHost(target.transport, "reading the NATS login", natsLoginCommand(loadTemplates(), target.paths)),
  );
  if (!login)
    throw new OpsError(
      `${target.description} has no NATS_OPS_USER and NATS_OPS_PASSWORD in its .env: run npm run up once`,
    );
  const tunnel = await openTunnel(target.transport, NATS_CLIENT_PORT);
  try {
    const nc = await connect({
      servers: `127.0.0.1:${tunnel.port}`,
      ...login,
      reconnect: false,
      timeout: 20_000,
    }).catch((error: unknown) => {
      throw new OpsError(
        `NATS on ${target.description} did not answer through the tunnel (${error instanceof Error ? error.message : String(error)}): ` +
          "npm run ops -- status shows whether it runs",
      );
    });
    try {
      return await use(nc);
    } finally {
      await nc.close();
    }
  } finally {
    await tunnel.close();
  }
}
