// How a stream's copies stand, from its JetStream stream info
// (app/src/store/stream-replication.ts): what /metrics exports for the
// JetStream alerts (templates/host/monitoring/rules/platform.yml).
import type { PeerInfo, StreamInfo } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { streamReplication } from "../../app/src/store/stream-replication.js";

const peer = (name: string, state: Partial<PeerInfo> = {}): PeerInfo => ({
  name,
  current: true,
  offline: false,
  active: 1_000_000,
  lag: 0,
  ...state,
});
const info = (replicas: number, cluster?: StreamInfo["cluster"]) =>
  ({ config: { num_replicas: replicas }, cluster }) as Pick<StreamInfo, "config" | "cluster">;

describe("streamReplication", () => {
  it("a server of its own: one copy, caught up, leading (with or without a cluster block)", () => {
    expect(streamReplication(info(1))).toEqual({ replicas: 1, replicasCurrent: 1, hasLeader: true });
    expect(streamReplication(info(1, { leader: "n1" }))).toEqual({ replicas: 1, replicasCurrent: 1, hasLeader: true });
  });

  it("three copies, all caught up", () => {
    expect(streamReplication(info(3, { name: "c", leader: "n1", replicas: [peer("n2"), peer("n3")] }))).toEqual({
      replicas: 3,
      replicasCurrent: 3,
      hasLeader: true,
    });
  });

  it("a replica behind or offline is not current", () => {
    const behind = info(3, { leader: "n1", replicas: [peer("n2", { current: false, lag: 40 }), peer("n3")] });
    expect(streamReplication(behind).replicasCurrent).toBe(2);
    const offline = info(3, {
      leader: "n1",
      replicas: [peer("n2", { offline: true }), peer("n3", { current: false })],
    });
    expect(streamReplication(offline)).toEqual({ replicas: 3, replicasCurrent: 1, hasLeader: true });
  });

  it("no leader in a cluster: no quorum, and the leader's copy does not count", () => {
    expect(streamReplication(info(3, { name: "c", replicas: [peer("n2"), peer("n3", { offline: true })] }))).toEqual({
      replicas: 3,
      replicasCurrent: 1,
      hasLeader: false,
    });
    expect(streamReplication(info(3, { name: "c", leader: "" })).hasLeader).toBe(false);
  });
});
