// How a JetStream stream's copies stand, from its stream info: how many it
// should have, how many are caught up, and whether one leads. Read with the
// store's sizes (store-usage.ts) and exported in /metrics, so an alert can say
// that a stream lost its leader (no quorum: writes fail) or that a replica
// fell behind, before a second failure loses data.
import type { StreamInfo } from "@nats-io/jetstream";

export interface StreamReplication {
  /** The copies the stream is configured with (num_replicas). */
  replicas: number;
  /** The copies caught up: the leader, and each replica JetStream calls current and not offline. */
  replicasCurrent: number;
  /** Whether a server leads the stream; without one, it takes no writes. */
  hasLeader: boolean;
}

export function streamReplication(info: Pick<StreamInfo, "config" | "cluster">): StreamReplication {
  // A server outside a cluster reports no cluster block, or one naming
  // itself as the leader: it is the stream's only copy either way.
  const hasLeader = info.cluster === undefined || (info.cluster.leader ?? "") !== "";
  const followers = (info.cluster?.replicas ?? []).filter((peer) => peer.current && !peer.offline).length;
  return {
    replicas: Math.max(1, info.config.num_replicas ?? 1),
    replicasCurrent: (hasLeader ? 1 : 0) + followers,
    hasLeader,
  };
}
