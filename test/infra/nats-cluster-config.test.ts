// Each node's nats-cluster.conf (infra/cluster/nats-cluster-config.ts from
// templates/stack/nats-cluster.conf): what it says for 1, 3 and 5 nodes,
// what it refuses, and that nats-server -t accepts every file it renders.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, describe, expect, it } from "vitest";
import {
  renderNatsClusterConfigs,
  type ClusterNode,
  type NatsClusterInput,
} from "../../infra/cluster/nats-cluster-config.js";
import { renderNatsAuth } from "../../infra/host/nats-users.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";

const template = loadTemplates().natsCluster;
const ROUTE = { user: "route", password: "Xk2vQm9ZpL0aBcDeFgHiJkLmNoPqRsTu-_01" };
const vpc = (count: number): ClusterNode[] =>
  Array.from({ length: count }, (_, i) => ({ index: i + 1, privateAddress: `10.1.96.${i + 3}` }));
const render = (input: Partial<NatsClusterInput> & { nodes: ClusterNode[] }) =>
  renderNatsClusterConfigs(template, { route: ROUTE, ...input });
/** The file without its comments and blank lines: what nats-server reads. */
const directives = (config: string) =>
  config
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .join("\n");

describe("the rendered nats-cluster.conf", () => {
  it("is none for a single node: one server is no cluster", () => {
    expect(render({ nodes: vpc(1) })).toEqual([]);
  });

  it("gives each of 3 nodes its name, its private listener, every node as a route and the route user's hash", () => {
    const files = render({ nodes: vpc(3) });
    expect(files.map((f) => [f.index, f.serverName])).toEqual([
      [1, "platform-nats-1"],
      [2, "platform-nats-2"],
      [3, "platform-nats-3"],
    ]);
    const hash = /password: "(\$2b\$10\$[./A-Za-z0-9]{53})"/.exec(files[1]!.config)![1]!;
    expect(bcrypt.compareSync(ROUTE.password, hash)).toBe(true);
    expect(directives(files[1]!.config)).toBe(
      [
        'server_name: "platform-nats-2"',
        "cluster {",
        '  name: "platform"',
        '  listen: "10.1.96.4:6222"',
        "  authorization {",
        '    user: "route"',
        `    password: "${hash}"`,
        "    timeout: 2",
        "  }",
        "  routes: [",
        `    "nats-route://route:${ROUTE.password}@10.1.96.3:6222", "nats-route://route:${ROUTE.password}@10.1.96.4:6222", "nats-route://route:${ROUTE.password}@10.1.96.5:6222"`,
        "  ]",
        "}",
      ].join("\n"),
    );
    // Only the routes hold the secret itself.
    expect(files[1]!.config.split(ROUTE.password)).toHaveLength(4);
  });

  it("gives each of 5 nodes all five as routes (itself too), in index order whatever order the nodes come in", () => {
    const files = render({ nodes: vpc(5).reverse(), clusterName: "team-a" });
    expect(files.map((f) => f.serverName)).toEqual([1, 2, 3, 4, 5].map((i) => `platform-nats-${i}`));
    for (const file of files) {
      const routes = [...file.config.matchAll(/@10\.1\.96\.(\d+):6222"/g)].map((m) => Number(m[1]) - 2);
      expect(routes).toEqual([1, 2, 3, 4, 5]);
      expect(file.config).toContain(`listen: "10.1.96.${file.index + 2}:6222"`);
      expect(file.config).toContain('name: "team-a"');
    }
  });

  it("takes a cluster port per node (several nodes on one machine)", () => {
    const nodes = vpc(3).map((n) => ({ ...n, privateAddress: "127.0.0.1", clusterPort: 7000 + n.index }));
    const [first] = render({ nodes });
    expect(first!.config).toContain('listen: "127.0.0.1:7001"');
    expect(first!.config).toContain(`@127.0.0.1:7002"`);
    expect(first!.config).toContain(`@127.0.0.1:7003"`);
  });

  it("is the same text every time for the same input, so an unchanged cluster installs nothing", () => {
    expect(render({ nodes: vpc(3) })).toEqual(render({ nodes: vpc(3) }));
  });
});

describe("what the renderer refuses", () => {
  const refusal = (input: Partial<NatsClusterInput> & { nodes: ClusterNode[] }) => () => render(input);

  it("a node count that is no cluster nodeCount() accepts", () => {
    expect(refusal({ nodes: vpc(2) })).toThrow("nodes: 2 is even");
    expect(refusal({ nodes: vpc(4) })).toThrow("nodes: 4 is even");
  });

  it("a public address, the unspecified one, or no IPv4 address", () => {
    const withAddress = (address: string) => vpc(3).map((n, i) => (i === 1 ? { ...n, privateAddress: address } : n));
    expect(refusal({ nodes: withAddress("203.0.113.7") })).toThrow(
      "node 2's address 203.0.113.7 is not private (10/8, 172.16/12, 192.168/16, or 127/8 on one machine): routes would be open to the internet; give the node's VPC address",
    );
    expect(refusal({ nodes: withAddress("0.0.0.0") })).toThrow("node 2's address 0.0.0.0 is not private");
    expect(refusal({ nodes: withAddress("172.32.0.1") })).toThrow("is not private");
    expect(refusal({ nodes: withAddress("node-2.internal") })).toThrow(
      'node 2\'s private address "node-2.internal" is not an IPv4 address',
    );
    expect(render({ nodes: withAddress("172.31.0.1") })).toHaveLength(3);
    expect(render({ nodes: withAddress("192.168.0.9") })).toHaveLength(3);
  });

  it("indexes that are not 1 to N once each, and two nodes on one endpoint", () => {
    expect(refusal({ nodes: vpc(3).map((n) => (n.index === 3 ? { ...n, index: 4 } : n)) })).toThrow(
      "node index 4 is not one of 1 to 3",
    );
    expect(refusal({ nodes: vpc(3).map((n) => (n.index === 3 ? { ...n, index: 2 } : n)) })).toThrow(
      "two nodes have the same index",
    );
    expect(refusal({ nodes: vpc(3).map((n) => ({ ...n, privateAddress: "10.0.0.1" })) })).toThrow(
      "two nodes listen on the same address and port",
    );
    expect(refusal({ nodes: vpc(3).map((n) => ({ ...n, clusterPort: 70000 })) })).toThrow(
      "node 1's cluster port 70000 is not a TCP port",
    );
  });

  it("a route password that is short or would need escaping in a URL, and names with other characters", () => {
    for (const password of ["short", `${"a".repeat(32)}@x`, `${"a".repeat(32)}"`, `${"a".repeat(32)}:`])
      expect(refusal({ nodes: vpc(3), route: { ...ROUTE, password } })).toThrow(
        "the route password must be 32 or more base64url characters",
      );
    expect(refusal({ nodes: vpc(3), route: { ...ROUTE, user: "route user" } })).toThrow(
      'the route user "route user" may hold only letters, digits, - and _',
    );
    expect(refusal({ nodes: vpc(3), clusterName: 'a"b' })).toThrow('the cluster name "a"b"');
  });
});

describe("nats-server -t on every rendered file", () => {
  const dir = scratchDir("nats-cluster-config");
  afterAll(() => dir.remove());
  let counter = 0;

  /** nats-server -t on a main config that includes `cluster` the way a clustered node's will. */
  const check = (cluster: string, main = 'listen: "127.0.0.1:4222"\njetstream { store_dir: "/data" }\n') => {
    const folder = join(dir.path, `conf-${counter++}`);
    mkdirSync(folder);
    writeFileSync(join(folder, "nats-server.conf"), `${main}include ./nats-cluster.conf\n`);
    writeFileSync(join(folder, "nats-cluster.conf"), cluster);
    writeFileSync(
      join(folder, "nats-auth.conf"),
      renderNatsAuth(loadTemplates().natsAuth, ["a-secret-0123456789abcdef"]),
    );
    try {
      // No environment: nothing in the config comes from one.
      const output = execFileSync(natsServerBinary(), ["-c", join(folder, "nats-server.conf"), "-t"], {
        env: {},
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      return { ok: true, output };
    } catch (err) {
      const failed = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
    }
  };

  it("accepts each node's file of 3 and of 5 nodes", () => {
    for (const count of [3, 5])
      for (const file of render({ nodes: vpc(count) })) {
        const result = check(file.config);
        expect(result, `${count} nodes, node ${file.index}: ${result.output}`).toMatchObject({ ok: true });
      }
  });

  it("accepts it at the end of the stack's own nats-server.conf", () => {
    const [file] = render({ nodes: vpc(3) });
    const result = check(file!.config, loadTemplates().natsConf);
    expect(result, result.output).toMatchObject({ ok: true });
  });

  it("refuses a broken copy", () => {
    const [file] = render({ nodes: vpc(3) });
    expect(check(file!.config)).toMatchObject({ ok: true });
    const result = check(file!.config.replace("@10.1.96.4:", "@[10.1.96.4:"));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/error parsing route url/);
  });
});
