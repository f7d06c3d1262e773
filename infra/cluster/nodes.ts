// How many nodes a platform runs on, and how many copies JetStream keeps of
// each stream and key-value bucket. The one decision the scale-out grows
// from (issue 17): not read from the stack config yet, since nothing builds
// a cluster yet (docs/scale-out.md).

/** The node counts a platform may have: one server, or a Raft group with a majority that survives losses. */
export const NODE_COUNTS = [1, 3, 5] as const;
export type NodeCount = (typeof NODE_COUNTS)[number];

/** The most copies nats-server keeps of a stream (R1 to R5). */
export const MAX_STREAM_REPLICAS = 5;

/** Copies of each stream when none are asked for: three survive one node lost, and more only costs writes. */
const DEFAULT_MAX_REPLICAS = 3;

/** A node count or replica count that cannot work, with the reason and the value to set instead. */
export class ClusterSizeError extends Error {
  constructor(
    readonly key: "nodes" | "replicas",
    problem: string,
    fix: string,
  ) {
    super(`${key}: ${problem}. ${fix}`);
    this.name = "ClusterSizeError";
  }
}

const NODES_FIX =
  "Set nodes to 1 (a single server), 3 (a cluster that survives one node lost) or 5 (survives two nodes lost)";

/** `value` as a node count: 1, 3 or 5, anything else refused with why. */
export function nodeCount(value: number): NodeCount {
  if (!Number.isInteger(value) || value < 1)
    throw new ClusterSizeError("nodes", `${value} is not a node count`, NODES_FIX);
  if (value % 2 === 0)
    throw new ClusterSizeError(
      "nodes",
      `${value} is even: NATS's Raft groups need a majority of their voters to agree, and ${value} nodes survive no more losses than ${value - 1} (a majority of ${value} is ${value / 2 + 1})`,
      NODES_FIX,
    );
  if (!(NODE_COUNTS as readonly number[]).includes(value))
    throw new ClusterSizeError(
      "nodes",
      `${value} is more than the 5 this toolkit builds: NATS keeps at most 5 copies of a stream, and every node past that adds routes and Raft traffic without holding more of the data`,
      NODES_FIX,
    );
  return value as NodeCount;
}

/**
 * How many copies JetStream keeps of each stream and bucket on `nodes`
 * nodes: `explicit` when given (1 to the node count, as nats-server allows
 * R1 to R5), else as many as there are nodes, at most three.
 */
export function streamReplicas(nodes: NodeCount, explicit?: number): number {
  if (explicit === undefined) return Math.min(nodes, DEFAULT_MAX_REPLICAS);
  if (!Number.isInteger(explicit) || explicit < 1 || explicit > MAX_STREAM_REPLICAS)
    throw new ClusterSizeError(
      "replicas",
      `${explicit} is not a replica count: nats-server keeps 1 to ${MAX_STREAM_REPLICAS} copies of a stream`,
      `Set replicas to a whole number from 1 to ${nodes}, or leave it unset for ${Math.min(nodes, DEFAULT_MAX_REPLICAS)}`,
    );
  if (explicit > nodes)
    throw new ClusterSizeError(
      "replicas",
      `${explicit} is more than the ${nodes} node${nodes === 1 ? "" : "s"}: each copy of a stream lives on a different node, and JetStream refuses a stream it cannot place`,
      `Set replicas to at most ${nodes}, or nodes to ${explicit % 2 === 1 ? explicit : explicit + 1}`,
    );
  return explicit;
}
