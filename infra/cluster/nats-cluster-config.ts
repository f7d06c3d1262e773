// Each node's templates/stack/nats-cluster.conf: its stable server name, the
// cluster's name, the route listener on its private address, the routes to
// every node with the route credentials, and the hash incoming routes
// are checked against. Pure, so every file can be checked by nats-server -t
// and started on loopback without a host.
import { isIPv4 } from "node:net";
import { ipv4InNetwork, isPrivateIPv4 } from "../config/cidr.js";
import { natsConfigString } from "../host/nats-config-string.js";
import { natsPasswordHash } from "../host/nats-users.js";
import { renderTemplate, TemplateError } from "../host/render.js";
import { nodeCount } from "./nodes.js";

const TEMPLATE = "stack/nats-cluster.conf";

/** NATS's own cluster port, where every node listens for routes unless a node says otherwise. */
export const NATS_CLUSTER_PORT = 6222;

export const DEFAULT_CLUSTER_NAME = "platform";

export interface ClusterNode {
  /** 1 to N, the node's place in the cluster: its server name comes from it, so it must not change with a rebuild. */
  index: number;
  /** The node's address on the private network (the VPC); routes listen and dial there only. */
  privateAddress: string;
  /** @default NATS_CLUSTER_PORT (6222); several nodes on one machine (tests) need one each. */
  clusterPort?: number;
}

/** Who a route logs in as. The password is the secret; it goes into route URLs, so it is URL-safe by shape. */
export interface RouteCredential {
  user: string;
  password: string;
}

export interface NatsClusterInput {
  nodes: readonly ClusterNode[];
  route: RouteCredential;
  /** @default DEFAULT_CLUSTER_NAME */
  clusterName?: string;
}

export interface NatsClusterFile {
  index: number;
  serverName: string;
  /** The text of nats-cluster.conf for this node. */
  config: string;
}

/** The name a node has in NATS (/varz, /routez, a stream's leader), the same for every rebuild of it. */
export function natsServerName(index: number): string {
  return `platform-nats-${index}`;
}

const NAME = /^[A-Za-z0-9_-]+$/;
// base64url, as natsCredential and newSecret make them: nothing to escape in a URL or a config string.
const ROUTE_PASSWORD = /^[A-Za-z0-9_-]{32,}$/;

function checkNode(node: ClusterNode, count: number): void {
  const where = `node ${node.index}`;
  if (!Number.isInteger(node.index) || node.index < 1 || node.index > count)
    throw new TemplateError(TEMPLATE, `node index ${node.index} is not one of 1 to ${count}`);
  if (!isIPv4(node.privateAddress))
    throw new TemplateError(TEMPLATE, `${where}'s private address "${node.privateAddress}" is not an IPv4 address`);
  if (!isPrivateIPv4(node.privateAddress) && !ipv4InNetwork(node.privateAddress, "127.0.0.0", 8))
    throw new TemplateError(
      TEMPLATE,
      `${where}'s address ${node.privateAddress} is not private (10/8, 172.16/12, 192.168/16, or 127/8 on one machine): routes would be open to the internet; give the node's VPC address`,
    );
  const port = node.clusterPort ?? NATS_CLUSTER_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new TemplateError(TEMPLATE, `${where}'s cluster port ${port} is not a TCP port`);
}

function checkInput(input: NatsClusterInput, clusterName: string): void {
  const count = input.nodes.length;
  for (const node of input.nodes) checkNode(node, count);
  if (new Set(input.nodes.map((n) => n.index)).size !== count)
    throw new TemplateError(TEMPLATE, "two nodes have the same index: each of 1 to N once");
  const endpoints = input.nodes.map((n) => `${n.privateAddress}:${n.clusterPort ?? NATS_CLUSTER_PORT}`);
  if (new Set(endpoints).size !== count)
    throw new TemplateError(TEMPLATE, "two nodes listen on the same address and port: give each its own");
  if (!NAME.test(clusterName))
    throw new TemplateError(TEMPLATE, `the cluster name "${clusterName}" may hold only letters, digits, - and _`);
  if (!NAME.test(input.route.user))
    throw new TemplateError(TEMPLATE, `the route user "${input.route.user}" may hold only letters, digits, - and _`);
  if (!ROUTE_PASSWORD.test(input.route.password))
    throw new TemplateError(
      TEMPLATE,
      "the route password must be 32 or more base64url characters (letters, digits, - and _), as the toolkit's secrets are: it is written into route URLs",
    );
}

/**
 * One nats-cluster.conf per node, in index order; none for a single node,
 * which is no cluster. The node count must be one nodeCount() accepts.
 */
export function renderNatsClusterConfigs(template: string, input: NatsClusterInput): NatsClusterFile[] {
  if (nodeCount(input.nodes.length) === 1) return [];
  const clusterName = input.clusterName ?? DEFAULT_CLUSTER_NAME;
  checkInput(input, clusterName);
  const quote = (name: string, value: string) => natsConfigString(TEMPLATE, name, value);
  const endpoint = (node: ClusterNode) => `${node.privateAddress}:${node.clusterPort ?? NATS_CLUSTER_PORT}`;
  const { user, password } = input.route;
  const passwordHash = natsPasswordHash(password);
  // Every node, itself too (nats-server skips a route to itself): a new
  // cluster's JetStream takes the number of routes as the size of its meta
  // group, and with only the others listed, 3 nodes bootstrap as a group of
  // 2, which can elect a leader without the third and leave it out (seen on
  // nats-server 2.10.27, test/infra/nats-cluster.test.ts).
  const byIndex = [...input.nodes].sort((a, b) => a.index - b.index);
  const routes = byIndex.map((node) => quote("route", `nats-route://${user}:${password}@${endpoint(node)}`));
  return byIndex.map((node) => {
    const serverName = natsServerName(node.index);
    const config = renderTemplate(TEMPLATE, template, {
      SERVER_NAME: quote("server name", serverName),
      CLUSTER_NAME: quote("cluster name", clusterName),
      LISTEN: quote("listen address", endpoint(node)),
      ROUTE_USER: quote("route user", user),
      ROUTE_PASSWORD_HASH: quote("route password hash", passwordHash),
      ROUTES: routes.join(", "),
    });
    return { index: node.index, serverName, config };
  });
}
