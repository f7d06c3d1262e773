// The node count a platform may have and the replicas that follow from it
// (infra/cluster/nodes.ts): each refusal says why and what to set.
import { describe, expect, it } from "vitest";
import { ClusterSizeError, nodeCount, streamReplicas } from "../../infra/cluster/nodes.js";

describe("nodeCount", () => {
  it("accepts 1, 3 and 5", () => {
    expect([1, 3, 5].map(nodeCount)).toEqual([1, 3, 5]);
  });

  it("refuses an even count, with Raft's majority as the reason and the counts to use", () => {
    for (const [even, majority] of [
      [2, 2],
      [4, 3],
      [6, 4],
    ] as const) {
      const refusal = () => nodeCount(even);
      expect(refusal).toThrow(ClusterSizeError);
      expect(refusal).toThrow(`nodes: ${even} is even`);
      expect(refusal).toThrow(`survive no more losses than ${even - 1} (a majority of ${even} is ${majority})`);
      expect(refusal).toThrow(
        "Set nodes to 1 (a single server), 3 (a cluster that survives one node lost) or 5 (survives two nodes lost)",
      );
    }
  });

  it("refuses an odd count past 5, since NATS keeps at most 5 copies", () => {
    expect(() => nodeCount(7)).toThrow(/^nodes: 7 is more than the 5 this toolkit builds: NATS keeps at most 5 copies/);
  });

  it("refuses what is not a count", () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => nodeCount(bad)).toThrow(`nodes: ${bad} is not a node count`);
  });
});

describe("streamReplicas", () => {
  it("follows the node count, at most three, when none is asked for", () => {
    expect(streamReplicas(1)).toBe(1);
    expect(streamReplicas(3)).toBe(3);
    expect(streamReplicas(5)).toBe(3);
  });

  it("takes an explicit count from 1 to the node count, even ones too (nats-server allows R1 to R5)", () => {
    expect(streamReplicas(5, 5)).toBe(5);
    expect(streamReplicas(5, 4)).toBe(4);
    expect(streamReplicas(3, 2)).toBe(2);
    expect(streamReplicas(3, 1)).toBe(1);
    expect(streamReplicas(1, 1)).toBe(1);
  });

  it("refuses more replicas than nodes, naming both ways out", () => {
    expect(() => streamReplicas(1, 3)).toThrow(
      "replicas: 3 is more than the 1 node: each copy of a stream lives on a different node, and JetStream refuses a stream it cannot place. Set replicas to at most 1, or nodes to 3",
    );
    expect(() => streamReplicas(3, 4)).toThrow(
      /^replicas: 4 is more than the 3 nodes: .* Set replicas to at most 3, or nodes to 5$/,
    );
  });

  it("refuses a count nats-server has no such stream for", () => {
    expect(() => streamReplicas(5, 6)).toThrow(
      "replicas: 6 is not a replica count: nats-server keeps 1 to 5 copies of a stream. Set replicas to a whole number from 1 to 5, or leave it unset for 3",
    );
    expect(() => streamReplicas(3, 0)).toThrow("replicas: 0 is not a replica count");
    expect(() => streamReplicas(3, 2.5)).toThrow("replicas: 2.5 is not a replica count");
  });
});
