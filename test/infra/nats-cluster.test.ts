// Three real nats-servers on loopback, started from the nats-cluster.conf
// files the toolkit renders (infra/cluster/nats-cluster-config.ts), each on
// its own loopback address as nodes are on a VPC: they form one JetStream
// cluster, each under its stable name; a route with the wrong password is
// refused; an R3 stream keeps an acknowledged message when its leader is
// killed with SIGKILL.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  natsServerName,
  renderNatsClusterConfigs,
  type ClusterNode,
  type RouteCredential,
} from "../../infra/cluster/nats-cluster-config.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { NatsNode } from "../../scripts/loopback/nats.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { newSecret } from "../../scripts/ops/new-secret.js";
import { tcpProbe } from "../harness/tcp-probe.js";
import { until } from "../harness/until.js";

const template = loadTemplates().natsCluster;
const ROUTE: RouteCredential = { user: "route", password: newSecret() };
/** How long a cluster state may take: forming, electing, re-electing after a node's death. */
const CLUSTER_BOUND_MS = 30_000;
/** Node i's private address: a loopback address of its own, as each node has its own VPC address. */
const address = (index: number) => `127.0.0.${index + 1}`;

interface RunningNode {
  index: number;
  nats: NatsNode;
  /** nats-server's monitoring endpoint (/routez, /jsz, /varz), on 127.0.0.1. */
  monitor: string;
}

// Made in beforeAll, not on import: afterAll, which removes it, does not run
// when a filter leaves none of this file's tests.
let dir: ReturnType<typeof scratchDir>;
const running: RunningNode[] = [];
/** The three nodes as the renderer got them: each on a free cluster port. */
const members: ClusterNode[] = [];

/** Whether this process can listen on host:port (and it stops at once): false when something holds it. */
const listenable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

const monitor = async <T>(node: RunningNode, path: string): Promise<T> =>
  (await (await fetch(`${node.monitor}${path}`)).json()) as T;
/** The names of the servers a node has routes to (nats-server opens several routes to each peer). */
const routedTo = async (node: RunningNode) =>
  [
    ...new Set(
      (await monitor<{ routes?: { remote_name: string }[] }>(node, "/routez")).routes?.map((r) => r.remote_name),
    ),
  ].sort();
interface MetaCluster {
  leader?: string;
  cluster_size?: number;
  /** On the leader: the other peers of the meta group, and whether each has caught up. */
  replicas?: { name: string; current: boolean }[];
}
const metaCluster = async (node: RunningNode) =>
  (await monitor<{ meta_cluster?: MetaCluster }>(node, "/jsz")).meta_cluster;

/**
 * Starts node `index` from its rendered nats-cluster.conf, included by a
 * minimal main config (a client port and monitoring on 127.0.0.1, JetStream
 * in a folder of its own), the way the stack's nats-server.conf will.
 */
async function startNode(index: number, clusterConfig: string): Promise<RunningNode> {
  const folder = join(dir.path, `node-${index}`);
  mkdirSync(folder);
  const [clientPort, monitorPort] = [await freePort(), await freePort()];
  writeFileSync(join(folder, "nats-cluster.conf"), clusterConfig);
  writeFileSync(
    join(folder, "nats-server.conf"),
    [
      `listen: "127.0.0.1:${clientPort}"`,
      `http: "127.0.0.1:${monitorPort}"`,
      `jetstream { store_dir: "${join(folder, "jetstream")}", max_memory_store: 64MB, max_file_store: 1GB }`,
      "include ./nats-cluster.conf",
      "",
    ].join("\n"),
  );
  const nats = new NatsNode(natsServerName(index), clientPort, join(folder, "nats-server.conf"));
  await nats.start();
  const node = { index, nats, monitor: `http://127.0.0.1:${monitorPort}` };
  running.push(node);
  return node;
}

/** The three nodes, once each routes to the two others and JetStream's meta group has a leader over all three. */
async function formedCluster(): Promise<RunningNode[]> {
  const cluster = running.filter((n) => n.index <= 3);
  for (const node of cluster) {
    const others = cluster.filter((o) => o !== node).map((o) => natsServerName(o.index));
    await until(
      `${natsServerName(node.index)} routes to ${others.join(", ")}`,
      () => routedTo(node),
      (names) => others.every((name) => names.includes(name)),
      CLUSTER_BOUND_MS,
    );
    await until(
      `${natsServerName(node.index)} sees a JetStream meta leader over 3 peers`,
      () => metaCluster(node),
      (meta) => Boolean(meta?.leader) && meta?.cluster_size === 3,
      CLUSTER_BOUND_MS,
    );
  }
  // The leader has both others in its meta group, caught up: a group of
  // three, not a leader and one follower that agree without the third.
  for (const node of cluster)
    await until(
      `${natsServerName(node.index)}, if the meta leader, has the two others current`,
      () => metaCluster(node),
      (meta) =>
        meta?.leader !== natsServerName(node.index) || (meta.replicas ?? []).filter((r) => r.current).length === 2,
      CLUSTER_BOUND_MS,
    );
  return cluster;
}

beforeAll(async () => {
  dir = scratchDir("nats-cluster");
  for (const index of [1, 2, 3]) members.push({ index, privateAddress: address(index), clusterPort: await freePort() });
  const files = renderNatsClusterConfigs(template, { nodes: members, route: ROUTE });
  await Promise.all(files.map((file) => startNode(file.index, file.config)));
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((n) => n.nats.stop()));
  dir?.remove();
});

describe("a cluster started from the rendered files", () => {
  it("forms: each node routes to the two others, and JetStream elects a meta leader over all three", async () => {
    const cluster = await formedCluster();
    for (const node of cluster)
      expect(await routedTo(node)).toEqual([1, 2, 3].filter((i) => i !== node.index).map(natsServerName));
  }, 60_000);

  it("listens for routes on each node's own address only, not on every address of the machine", async () => {
    await formedCluster();
    for (const node of members) {
      expect(await tcpProbe(node.privateAddress, node.clusterPort!, 2_000)).toBe("connected");
      // 127.0.0.1 is no node's address, and a listener on 0.0.0.0 holds the
      // port there too: the test can listen on it only if nats-server does not.
      // (Probing it instead would see whatever another process listens on.)
      expect(await listenable("127.0.0.1", node.clusterPort!)).toBe(true);
    }
  }, 60_000);

  it("has each node answer under its stable server_name, to clients and in its monitoring", async () => {
    for (const node of await formedCluster()) {
      const nc = await connect({ servers: node.nats.url });
      expect(nc.info?.server_name).toBe(`platform-nats-${node.index}`);
      await nc.close();
      expect((await monitor<{ server_name: string }>(node, "/varz")).server_name).toBe(`platform-nats-${node.index}`);
    }
  }, 60_000);

  it("refuses a route with the wrong password: a fourth server does not join", async () => {
    const cluster = await formedCluster();
    const refusals = () => cluster.map((n) => n.nats.output.filter((l) => /authentication error/.test(l)).length);
    expect(refusals()).toEqual([0, 0, 0]);
    // The fourth is rendered as node 4 of five, with every other setting right and the secret wrong.
    const nodes: ClusterNode[] = [...members];
    for (const index of [4, 5]) nodes.push({ index, privateAddress: address(index), clusterPort: await freePort() });
    const fourth = renderNatsClusterConfigs(template, { nodes, route: { ...ROUTE, password: newSecret() } })[3]!;
    expect(fourth.serverName).toBe("platform-nats-4");
    const intruder = await startNode(4, fourth.config);
    // Each of the three has refused it at least once...
    await until(
      "each node refuses the fourth's route",
      async () => refusals(),
      (counts) => counts.every((c) => c > 0),
      CLUSTER_BOUND_MS,
    );
    // ...and none has it as a route or a JetStream peer.
    for (const node of cluster) {
      expect(await routedTo(node)).not.toContain("platform-nats-4");
      expect((await metaCluster(node))?.cluster_size).toBe(3);
    }
    await intruder.nats.stop();
  }, 60_000);

  it("keeps an acknowledged message of an R3 stream when its leader is killed with SIGKILL", async () => {
    const cluster = await formedCluster();
    let nc: NatsConnection = await connect({ servers: cluster[0]!.nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "CLUSTER_TEST", subjects: ["cluster-test.>"], num_replicas: 3 });
    const ack = await jetstream(nc).publish("cluster-test.one", "kept through the leader's death");
    const info = await jsm.streams.info("CLUSTER_TEST");
    expect(info.config.num_replicas).toBe(3);
    const leaderName = info.cluster!.leader!;
    await nc.close();

    const leader = cluster.find((n) => natsServerName(n.index) === leaderName)!;
    await leader.nats.kill();
    const survivors = cluster.filter((n) => n !== leader);
    nc = await connect({ servers: survivors.map((n) => n.nats.url) });
    try {
      // No check of the JetStream API on connecting: the killed node may have been the meta leader too.
      const jsmAfter = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
      const after = await until(
        "the stream answering again from the two nodes left",
        async () => ({
          message: await jsmAfter.streams.getMessage("CLUSTER_TEST", { seq: ack.seq }),
          leader: (await jsmAfter.streams.info("CLUSTER_TEST")).cluster?.leader,
        }),
        (read) => read.message !== null && read.leader !== undefined,
        CLUSTER_BOUND_MS,
      );
      expect(after.message!.string()).toBe("kept through the leader's death");
      expect(after.leader).not.toBe(leaderName);
      expect(survivors.map((n) => natsServerName(n.index))).toContain(after.leader);
    } finally {
      await nc.close();
    }
  }, 60_000);
});
