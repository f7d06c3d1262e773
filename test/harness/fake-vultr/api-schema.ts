// The part of the Vultr API v2 that the fake serves, as JSON Schema, so a
// test can check every route, request and answer of the fake against what
// Vultr publishes (test/infra/vultr-api-schema.test.ts).
//
// Source: Vultr's OpenAPI document "Vultr API" 2.0, published with its
// generated Java client: github.com/vultr/vultr-java, file blob/v0.0.1.json,
// commit c0af6afb86e3 of 7 December 2023 (159 paths). Taken from it as facts:
// paths, methods, query parameters, request fields and their types
// (required ones marked), the status of success, its table of error
// statuses, and response fields.
// The document predates some of what the API answers now; those facts come
// from Vultr's Go client github.com/vultr/govultr v3.32.0 (20 July 2026) and
// are marked "govultr" below: the per-cluster tier routes, tier_id, the flat
// v6_* instance fields, an Object Storage's location and tier.
// VPCs and load balancers: the same document as shipped with
// vultr-python-client (openapi-client/swagger.json, commit 8cd1eaf3a4ec of
// 13 August 2025) and govultr v3.32.0; where they differ, see the comments
// by loadBalancer below and infra/vultr/README.md.
//
// Responses: `required` lists the fields our client reads (infra/vultr/
// api-types.ts), so an answer without them fails; any field neither source
// names fails too. Request bodies allow exactly the fields the sources name.
import type { HttpMethod } from "../../../infra/vultr/client.js";

export type JsonSchema = Record<string, unknown>;

export interface ApiOperation {
  method: HttpMethod;
  /** Path template under /v2, parameters in braces as the document writes them. */
  path: string;
  /** Query parameters the operation takes. */
  query?: string[];
  /** The JSON body it takes; none when undefined. */
  request?: JsonSchema;
  /** The status of success and the body that comes with it (none when undefined). */
  success: { status: number; body?: JsonSchema };
}

/**
 * The document's "Response Codes" table: errors any call may answer. (Its
 * per-operation lists are subsets of it, but for a 422 on GET /v2/instances,
 * which the fake never answers.)
 */
export const ANY_OPERATION_ERRORS = [400, 401, 403, 404, 429, 500];

const str = { type: "string" };
const int = { type: "integer" };
const num = { type: "number" };
const bool = { type: "boolean" };
const strs = { type: "array", items: str };

/** An object with exactly these fields, `required` of them always present. */
function obj(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: "object", properties, required, additionalProperties: false };
}

/** Every answer is a single object under one key: {"instance": {...}}. */
function one(key: string, item: JsonSchema): JsonSchema {
  return obj({ [key]: item }, [key]);
}

const meta = obj({ total: int, links: obj({ next: str, prev: str }, ["next", "prev"]) }, ["total", "links"]);
const PAGING = ["per_page", "cursor"];

function list(key: string, item: JsonSchema): JsonSchema {
  return obj({ [key]: { type: "array", items: item }, meta }, [key, "meta"]);
}

/** Vultr's error body (govultr apiError). */
export const ERROR_BODY = obj({ error: str, status: int }, ["error"]);

const os = obj({ id: int, name: str, arch: str, family: str }, ["id", "name", "arch", "family"]);

const instance = obj(
  {
    id: str,
    os: str,
    ram: int,
    disk: int,
    main_ip: str,
    vcpu_count: int,
    region: str,
    default_password: str,
    date_created: str,
    status: str,
    power_status: str,
    server_status: str,
    allowed_bandwidth: int,
    netmask_v4: str,
    gateway_v4: str,
    v6_networks: { type: "array", items: obj({ network: str, main_ip: str, network_size: int }) },
    // govultr: the flat IPv6 fields its Instance reads.
    v6_main_ip: str,
    v6_network: str,
    v6_network_size: int,
    vpc_only: bool,
    snapshot_id: str,
    hostname: str,
    label: str,
    tag: str,
    internal_ip: str,
    kvm: str,
    os_id: int,
    app_id: int,
    image_id: str,
    firewall_group_id: str,
    features: strs,
    plan: str,
    tags: strs,
    user_scheme: str,
  },
  [
    "id",
    "os",
    "os_id",
    "plan",
    "region",
    "label",
    "hostname",
    "status",
    "power_status",
    "server_status",
    "main_ip",
    "v6_main_ip",
    "v6_network",
    "firewall_group_id",
    "features",
    "tags",
    "date_created",
  ],
);

const instanceFields = {
  backups: str,
  firewall_group_id: str,
  enable_ipv6: bool,
  user_data: str,
  tag: str,
  plan: str,
  ddos_protection: bool,
  attach_private_network: strs,
  attach_vpc: strs,
  attach_vpc2: strs,
  enable_private_network: bool,
  enable_vpc: bool,
  enable_vpc2: bool,
  label: str,
  tags: strs,
  user_scheme: str,
  app_id: int,
  image_id: str,
};

const instanceCreate = obj(
  {
    ...instanceFields,
    region: str,
    os_id: int,
    ipxe_chain_url: str,
    iso_id: str,
    script_id: str,
    snapshot_id: str,
    disable_public_ipv4: bool,
    sshkey_id: strs,
    activation_email: bool,
    hostname: str,
    reserved_ipv4: str,
  },
  ["region", "plan"],
);

const instanceUpdate = obj({
  ...instanceFields,
  // The document types os_id as a string here, unlike the create.
  os_id: str,
  detach_private_network: strs,
  detach_vpc: strs,
  detach_vpc2: strs,
});

const firewallGroup = obj(
  {
    id: str,
    description: str,
    date_created: str,
    date_modified: str,
    instance_count: int,
    rule_count: int,
    max_rule_count: int,
  },
  ["id", "description", "date_created", "date_modified", "instance_count", "rule_count", "max_rule_count"],
);

const firewallRule = obj(
  {
    id: int,
    type: str,
    ip_type: str,
    action: str,
    protocol: str,
    port: str,
    subnet: str,
    subnet_size: int,
    source: str,
    notes: str,
  },
  ["id", "action", "ip_type", "protocol", "port", "subnet", "subnet_size", "source", "notes"],
);

const sshKey = obj({ id: str, date_created: str, name: str, ssh_key: str }, ["id", "name", "ssh_key", "date_created"]);

const reservedIp = obj(
  { id: str, region: str, ip_type: str, subnet: str, subnet_size: int, label: str, instance_id: str },
  ["id", "region", "ip_type", "subnet", "subnet_size", "label", "instance_id"],
);

const domain = obj({ domain: str, date_created: str, dns_sec: str }, ["domain", "date_created", "dns_sec"]);

const dnsRecord = obj({ id: str, type: str, name: str, data: str, priority: int, ttl: int }, [
  "id",
  "type",
  "name",
  "data",
  "priority",
  "ttl",
]);

// govultr adds an optional `name`.
const cluster = obj({ id: int, region: str, hostname: str, deploy: str, name: str }, [
  "id",
  "region",
  "hostname",
  "deploy",
]);

// govultr ObjectStorageTier; `locations` is omitempty there.
const tierDetail = {
  sales_name: str,
  sales_desc: str,
  price: num,
  bw_gb_price: num,
  disk_gb_price: num,
  ratelimit_ops_bytes: int,
  ratelimit_ops_secs: int,
  is_default: str,
  slug: str,
  locations: { type: "array", items: cluster },
};
const tier = obj({ id: int, ...tierDetail }, ["id", "sales_name", "price", "is_default", "slug"]);

const objectStorageFields = {
  id: str,
  date_created: str,
  cluster_id: int,
  region: str,
  label: str,
  status: str,
  s3_hostname: str,
  s3_access_key: str,
  s3_secret_key: str,
  // govultr: `location`, and in the list only a `tier` keyed by OBJSTORETIERID (ObjectStorageListTier).
  location: str,
};
const objectStorageRequired = ["id", "cluster_id", "label", "status", "s3_hostname", "s3_access_key", "s3_secret_key"];
const objectStorage = obj(objectStorageFields, objectStorageRequired);
const listedObjectStorage = obj(
  { ...objectStorageFields, tier: { oneOf: [{ type: "null" }, obj({ OBJSTORETIERID: int, ...tierDetail })] } },
  objectStorageRequired,
);

// Load balancers. The request takes the union of the document's fields and
// govultr's LoadBalancerReq (govultr adds nodes, http3, timeout, auto_ssl,
// global_regions and, on a PATCH, region; the document keeps the deprecated
// private_network). The document types the PATCH's health check counts as
// strings; govultr and terraform-provider-vultr send integers, as here.
const healthCheck = obj({
  protocol: str,
  port: int,
  path: str,
  check_interval: int,
  response_timeout: int,
  unhealthy_threshold: int,
  healthy_threshold: int,
});
const forwardingRule = obj({
  id: str,
  frontend_protocol: str,
  frontend_port: int,
  backend_protocol: str,
  backend_port: int,
});
const lbFirewallRule = obj({ id: str, port: int, source: str, ip_type: str });
const autoSsl = obj({ domain_zone: str, domain_sub: str, domain: str });

function loadBalancerRequest(required: string[]): JsonSchema {
  return obj(
    {
      region: str,
      label: str,
      balancing_algorithm: str,
      ssl_redirect: bool,
      http2: bool,
      http3: bool,
      nodes: int,
      proxy_protocol: bool,
      timeout: int,
      health_check: healthCheck,
      forwarding_rules: { type: "array", items: forwardingRule },
      sticky_session: obj({ cookie_name: str }),
      ssl: obj({
        private_key: str,
        certificate: str,
        chain: str,
        private_key_b64: str,
        certificate_b64: str,
        chain_b64: str,
      }),
      auto_ssl: autoSsl,
      instances: strs,
      firewall_rules: { type: "array", items: lbFirewallRule },
      private_network: str,
      vpc: str,
      global_regions: strs,
    },
    required,
  );
}

// The answer: the document's fields and govultr's LoadBalancer. The document
// names the rule list forward_rules; govultr and terraform-provider-vultr
// read forwarding_rules, which the fake sends.
const loadBalancer = obj(
  {
    id: str,
    date_created: str,
    region: str,
    label: str,
    status: str,
    ipv4: str,
    ipv6: str,
    generic_info: obj({
      balancing_algorithm: str,
      ssl_redirect: bool,
      sticky_sessions: obj({ cookie_name: str }),
      proxy_protocol: bool,
      timeout: int,
      private_network: str,
      vpc: str,
    }),
    health_check: healthCheck,
    has_ssl: bool,
    http2: bool,
    http3: bool,
    nodes: int,
    instances: strs,
    forwarding_rules: { type: "array", items: forwardingRule },
    forward_rules: { type: "array", items: forwardingRule },
    firewall_rules: { type: "array", items: lbFirewallRule },
    auto_ssl: autoSsl,
    global_regions: strs,
  },
  ["id", "date_created", "region", "label", "status", "ipv4", "ipv6", "generic_info", "health_check", "instances"],
);

interface Resource {
  /** The collection's path; its members are at `${collection}/{${param}}`. */
  collection: string;
  param: string;
  /** The key an answer holds one member under, and the member's shape. */
  key: string;
  schema: JsonSchema;
  /** A paged list of the collection under this key (with `listSchema` members when they differ). */
  listKey?: string;
  listSchema?: JsonSchema;
  listQuery?: string[];
  create?: { request: JsonSchema; status: number };
  /** An update answers 204, or the member with 200 or 202. */
  update?: { method: "PUT" | "PATCH"; request: JsonSchema; status: number };
  /** False where the fake serves no GET and DELETE of one member. */
  members?: boolean;
}

/** The operations Vultr's API has on one kind of thing, as the document lists them. */
function resource(r: Resource): ApiOperation[] {
  const member = `${r.collection}/{${r.param}}`;
  const answer = one(r.key, r.schema);
  const ops: ApiOperation[] = [];
  if (r.listKey) {
    const body = list(r.listKey, r.listSchema ?? r.schema);
    ops.push({ method: "GET", path: r.collection, query: r.listQuery ?? PAGING, success: { status: 200, body } });
  }
  if (r.create) {
    const { request, status } = r.create;
    ops.push({ method: "POST", path: r.collection, request, success: { status, body: answer } });
  }
  if (r.members !== false) ops.push({ method: "GET", path: member, success: { status: 200, body: answer } });
  if (r.update) {
    const { method, request, status } = r.update;
    ops.push({ method, path: member, request, success: status === 204 ? { status } : { status, body: answer } });
  }
  if (r.members !== false) ops.push({ method: "DELETE", path: member, success: { status: 204 } });
  return ops;
}

const tierList = one("tiers", { type: "array", items: tier });

// The VPC's fields are the same in both sources (govultr VPC).
const vpc = obj({ id: str, region: str, description: str, v4_subnet: str, v4_subnet_mask: int, date_created: str }, [
  "id",
  "region",
  "description",
  "v4_subnet",
  "v4_subnet_mask",
  "date_created",
]);

export const API_OPERATIONS: ApiOperation[] = [
  ...resource({ collection: "/v2/os", param: "os-id", key: "os", schema: os, listKey: "os", members: false }),
  ...resource({
    collection: "/v2/instances",
    param: "instance-id",
    key: "instance",
    schema: instance,
    listKey: "instances",
    listQuery: [...PAGING, "tag", "label", "main_ip", "region", "firewall_group_id"],
    create: { request: instanceCreate, status: 202 },
    update: { method: "PATCH", request: instanceUpdate, status: 202 },
  }),
  {
    method: "GET",
    path: "/v2/instances/{instance-id}/upgrades",
    query: ["type"],
    success: {
      status: 200,
      body: one("upgrades", obj({ applications: { type: "array" }, plans: strs, os: { type: "array" } })),
    },
  },
  ...resource({
    collection: "/v2/firewalls",
    param: "firewall-group-id",
    key: "firewall_group",
    schema: firewallGroup,
    listKey: "firewall_groups",
    create: { request: obj({ description: str }), status: 201 },
    update: { method: "PUT", request: obj({ description: str }, ["description"]), status: 204 },
  }),
  ...resource({
    collection: "/v2/firewalls/{firewall-group-id}/rules",
    param: "firewall-rule-id",
    key: "firewall_rule",
    schema: firewallRule,
    listKey: "firewall_rules",
    create: {
      request: obj({ ip_type: str, protocol: str, subnet: str, subnet_size: int, port: str, source: str, notes: str }, [
        "ip_type",
        "protocol",
        "subnet",
        "subnet_size",
      ]),
      status: 201,
    },
  }),
  ...resource({
    collection: "/v2/ssh-keys",
    param: "ssh-key-id",
    key: "ssh_key",
    schema: sshKey,
    listKey: "ssh_keys",
    create: { request: obj({ name: str, ssh_key: str }, ["name", "ssh_key"]), status: 201 },
    update: { method: "PATCH", request: obj({ name: str, ssh_key: str }), status: 204 },
  }),
  ...resource({
    collection: "/v2/reserved-ips",
    param: "reserved-ip",
    key: "reserved_ip",
    schema: reservedIp,
    listKey: "reserved_ips",
    create: { request: obj({ region: str, ip_type: str, label: str }, ["region", "ip_type"]), status: 201 },
    update: { method: "PATCH", request: obj({ label: str }, ["label"]), status: 200 },
  }),
  {
    method: "POST",
    path: "/v2/reserved-ips/{reserved-ip}/attach",
    request: obj({ instance_id: str }, ["instance_id"]),
    success: { status: 204 },
  },
  { method: "POST", path: "/v2/reserved-ips/{reserved-ip}/detach", success: { status: 204 } },
  ...resource({
    collection: "/v2/domains",
    param: "dns-domain",
    key: "domain",
    schema: domain,
    listKey: "domains",
    create: { request: obj({ domain: str, ip: str, dns_sec: str }, ["domain"]), status: 200 },
  }),
  ...resource({
    collection: "/v2/domains/{dns-domain}/records",
    param: "record-id",
    key: "record",
    schema: dnsRecord,
    listKey: "records",
    create: {
      request: obj({ name: str, type: str, data: str, ttl: int, priority: int }, ["name", "type", "data"]),
      status: 201,
    },
    update: { method: "PATCH", request: obj({ name: str, data: str, ttl: int, priority: int }), status: 204 },
  }),
  ...resource({
    collection: "/v2/object-storage/clusters",
    param: "cluster-id",
    key: "cluster",
    schema: cluster,
    listKey: "clusters",
    members: false,
  }),
  // govultr ListTiers and ListClusterTiers: {"tiers": [...]}, not paged.
  { method: "GET", path: "/v2/object-storage/tiers", success: { status: 200, body: tierList } },
  { method: "GET", path: "/v2/object-storage/clusters/{cluster-id}/tiers", success: { status: 200, body: tierList } },
  ...resource({
    collection: "/v2/object-storage",
    param: "object-storage-id",
    key: "object_storage",
    schema: objectStorage,
    listKey: "object_storages",
    listSchema: listedObjectStorage,
    // tier_id: govultr ObjectStorageReq (Vultr refuses a create without one since the tiers came).
    create: { request: obj({ cluster_id: int, tier_id: int, label: str }, ["cluster_id"]), status: 202 },
    update: { method: "PUT", request: obj({ label: str }, ["label"]), status: 204 },
  }),
  ...resource({
    collection: "/v2/vpcs",
    param: "vpc-id",
    key: "vpc",
    schema: vpc,
    listKey: "vpcs",
    create: {
      request: obj({ region: str, description: str, v4_subnet: str, v4_subnet_mask: int }, ["region"]),
      status: 201,
    },
    update: { method: "PUT", request: obj({ description: str }, ["description"]), status: 204 },
  }),
  ...resource({
    collection: "/v2/load-balancers",
    param: "load-balancer-id",
    key: "load_balancer",
    schema: loadBalancer,
    listKey: "load_balancers",
    create: { request: loadBalancerRequest(["region"]), status: 202 },
    update: { method: "PATCH", request: loadBalancerRequest([]), status: 204 },
  }),
  // govultr AttachVPC and DetachVPC; answers 204 without a body.
  {
    method: "POST",
    path: "/v2/instances/{instance-id}/vpcs/attach",
    request: obj({ vpc_id: str }, ["vpc_id"]),
    success: { status: 204 },
  },
  {
    method: "POST",
    path: "/v2/instances/{instance-id}/vpcs/detach",
    request: obj({ vpc_id: str }, ["vpc_id"]),
    success: { status: 204 },
  },
];

/**
 * The operation a request path names. A literal segment wins over a
 * parameter, so /v2/object-storage/clusters is not read as a subscription id.
 */
export function findOperation(method: string, path: string): ApiOperation | undefined {
  const segments = path.split("/");
  const matches = API_OPERATIONS.filter((op) => {
    if (op.method !== method) return false;
    const template = op.path.split("/");
    return template.length === segments.length && template.every((t, i) => t.startsWith("{") || t === segments[i]);
  });
  const params = (op: ApiOperation) => op.path.split("/").filter((t) => t.startsWith("{")).length;
  return matches.sort((a, b) => params(a) - params(b))[0];
}
