// The chat store's replication state as /metrics reads it (StoreUsage, then
// streamReplication), against a real 3-node nats-server cluster: all copies
// caught up, one server gone (a replica not current), and two gone (no quorum:
// JetStream stops answering, which /metrics exports as nats_jetstream_available 0).
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUsage } from "../../app/src/store/store-usage.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";

let nats: NatsDeployment;
let nc: NatsConnection;
let jsm: JetStreamManager;
let usage: StoreUsage;

beforeAll(async () => {
  nats = await startNats({ nodes: 3 });
  nc = await connect({ servers: nats.url, token: nats.token, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  jsm = await jetstreamManager(nc, { timeout: 2000 });
  // The meta leader learns its peers a moment after it is elected: until
  // then a 3-replica stream has "no suitable peers for placement".
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await jsm.streams.add({ name: "CONVERSATIONS", subjects: ["conv.>"], num_replicas: 3 });
      break;
    } catch (err) {
      if (Date.now() > deadline || !/no suitable peers/.test(String(err))) throw err;
      await sleep(250);
    }
  }
  usage = new StoreUsage(jsm);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** The log stream's replication, or the error JetStream answered with. */
async function read(): Promise<{ replicas: number; replicasCurrent: number; hasLeader: boolean } | Error> {
  try {
    const log = (await usage.all()).find((s) => s.stream === "CONVERSATIONS")!;
    return { replicas: log.replicas, replicasCurrent: log.replicasCurrent, hasLeader: log.hasLeader };
  } catch (err) {
    return err as Error;
  }
}

/** Reads until `done` holds (a cluster takes seconds to notice a peer gone), then returns that reading. */
async function readUntil<T>(done: (r: Awaited<ReturnType<typeof read>>) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reading = await read();
    if (done(reading)) return reading as T;
    if (Date.now() > deadline) throw new Error(`no ${what} within 60 s; last: ${String(JSON.stringify(reading))}`);
    await sleep(500);
  }
}

describe("a 3-replica stream on a real cluster", () => {
  it("has a leader and three current copies while every server runs", async () => {
    const reading = await readUntil((r) => !(r instanceof Error) && r.replicasCurrent === 3, "three current copies");
    expect(reading).toEqual({ replicas: 3, replicasCurrent: 3, hasLeader: true });
  });

  it("has two current copies of three once a replica's server is gone", async () => {
    const leader = (await jsm.streams.info("CONVERSATIONS")).cluster!.leader!;
    await nats.nodes.find((n) => n.name !== leader)!.stop();
    const reading = await readUntil((r) => !(r instanceof Error) && r.replicasCurrent < 3, "a replica behind");
    expect(reading).toEqual({ replicas: 3, replicasCurrent: 2, hasLeader: true });
  }, 90_000);

  it("stops answering once a second server is gone: no quorum", async () => {
    const leader = (await jsm.streams.info("CONVERSATIONS")).cluster!.leader!;
    const running = nats.nodes.filter((n) => n.pid !== -1);
    await running.find((n) => n.name !== leader)!.stop();
    const reading = await readUntil<unknown>(
      (r) => r instanceof Error || !r.hasLeader,
      "a stream without a leader, or JetStream not answering",
    );
    // What the one server left does: say so here, as /metrics then exports it.
    expect(reading instanceof Error ? "JetStream does not answer" : reading).toBe("JetStream does not answer");
  }, 90_000);
});
