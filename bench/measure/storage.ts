// JetStream's bytes on disk, to price what the API stores per answer token.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Platform } from "../platform.js";

export async function jetStreamBytes(platform: Platform): Promise<number> {
  const nc = await connect({ servers: platform.stack.nats.url, token: platform.stack.nats.token });
  try {
    return (await (await jetstreamManager(nc)).getAccountInfo()).storage;
  } finally {
    await nc.close();
  }
}
