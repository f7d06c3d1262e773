// The part of the Vultr API v2 that the fake serves, as JSON Schema, so a
// test can check every route, request and answer of the fake against what
// Vultr publishes (test/infra/vultr-api-schema.test.ts).
//
// Source: Vultr's OpenAPI document "Vultr API" 2.0, published with its
// generated Java client: github.com/vultr/vultr-java, file blob/v0.0.1.json,
// commit c0af6afb86e3 of 7 December 2023 (159 paths). Taken from it as facts:
// paths, methods, request fields and their types (required ones marked),
// success statuses, the error statuses it lists, and response fields.
// The document predates some of what the API answers now; those facts come
// from Vultr's Go client github.com/vultr/govultr v3.32.0 (20 July 2026) and
// are marked "govultr" below: the per-cluster tier routes, tier_id, the flat
// v6_* instance fields, an Object Storage's location and tier.
//
// Responses: `required` lists the fields our client reads (infra/vultr/
// api-types.ts), so an answer without them fails; any field neither source
// names fails too. Request bodies allow exactly the document's fields.
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
  /** Error statuses the document lists for this operation, besides ANY_OPERATION_ERRORS. */
  errors?: number[];
}

/** The document's "Response Codes" table: errors any call may answer. */
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

export const API_OPERATIONS: ApiOperation[] = [
  { method: "GET", path: "/v2/os", query: PAGING, success: { status: 200, body: list("os", os) } },

  {
    method: "GET",
    path: "/v2/instances",
    query: [...PAGING, "tag", "label", "main_ip", "region", "firewall_group_id"],
    success: { status: 200, body: list("instances", instance) },
    errors: [422],
  },
  {
    method: "POST",
    path: "/v2/instances",
    request: instanceCreate,
    success: { status: 202, body: one("instance", instance) },
  },
  { method: "GET", path: "/v2/instances/{instance-id}", success: { status: 200, body: one("instance", instance) } },
  {
    method: "PATCH",
    path: "/v2/instances/{instance-id}",
    request: instanceUpdate,
    success: { status: 202, body: one("instance", instance) },
  },
  { method: "DELETE", path: "/v2/instances/{instance-id}", success: { status: 204 } },
  {
    method: "GET",
    path: "/v2/instances/{instance-id}/upgrades",
    query: ["type"],
    success: {
      status: 200,
      body: one("upgrades", obj({ applications: { type: "array" }, plans: strs, os: { type: "array" } })),
    },
  },

  {
    method: "GET",
    path: "/v2/firewalls",
    query: PAGING,
    success: { status: 200, body: list("firewall_groups", firewallGroup) },
  },
  {
    method: "POST",
    path: "/v2/firewalls",
    request: obj({ description: str }),
    success: { status: 201, body: one("firewall_group", firewallGroup) },
  },
  {
    method: "GET",
    path: "/v2/firewalls/{firewall-group-id}",
    success: { status: 200, body: one("firewall_group", firewallGroup) },
  },
  {
    method: "PUT",
    path: "/v2/firewalls/{firewall-group-id}",
    request: obj({ description: str }, ["description"]),
    success: { status: 204 },
  },
  { method: "DELETE", path: "/v2/firewalls/{firewall-group-id}", success: { status: 204 } },
  {
    method: "GET",
    path: "/v2/firewalls/{firewall-group-id}/rules",
    query: PAGING,
    success: { status: 200, body: list("firewall_rules", firewallRule) },
  },
  {
    method: "POST",
    path: "/v2/firewalls/{firewall-group-id}/rules",
    request: obj({ ip_type: str, protocol: str, subnet: str, subnet_size: int, port: str, source: str, notes: str }, [
      "ip_type",
      "protocol",
      "subnet",
      "subnet_size",
    ]),
    success: { status: 201, body: one("firewall_rule", firewallRule) },
  },
  {
    method: "GET",
    path: "/v2/firewalls/{firewall-group-id}/rules/{firewall-rule-id}",
    success: { status: 200, body: one("firewall_rule", firewallRule) },
  },
  { method: "DELETE", path: "/v2/firewalls/{firewall-group-id}/rules/{firewall-rule-id}", success: { status: 204 } },

  { method: "GET", path: "/v2/ssh-keys", query: PAGING, success: { status: 200, body: list("ssh_keys", sshKey) } },
  {
    method: "POST",
    path: "/v2/ssh-keys",
    request: obj({ name: str, ssh_key: str }, ["name", "ssh_key"]),
    success: { status: 201, body: one("ssh_key", sshKey) },
  },
  { method: "GET", path: "/v2/ssh-keys/{ssh-key-id}", success: { status: 200, body: one("ssh_key", sshKey) } },
  {
    method: "PATCH",
    path: "/v2/ssh-keys/{ssh-key-id}",
    request: obj({ name: str, ssh_key: str }),
    success: { status: 204 },
  },
  { method: "DELETE", path: "/v2/ssh-keys/{ssh-key-id}", success: { status: 204 } },

  {
    method: "GET",
    path: "/v2/reserved-ips",
    query: PAGING,
    success: { status: 200, body: list("reserved_ips", reservedIp) },
  },
  {
    method: "POST",
    path: "/v2/reserved-ips",
    request: obj({ region: str, ip_type: str, label: str }, ["region", "ip_type"]),
    success: { status: 201, body: one("reserved_ip", reservedIp) },
  },
  {
    method: "GET",
    path: "/v2/reserved-ips/{reserved-ip}",
    success: { status: 200, body: one("reserved_ip", reservedIp) },
  },
  {
    method: "PATCH",
    path: "/v2/reserved-ips/{reserved-ip}",
    request: obj({ label: str }, ["label"]),
    success: { status: 200, body: one("reserved_ip", reservedIp) },
  },
  { method: "DELETE", path: "/v2/reserved-ips/{reserved-ip}", success: { status: 204 } },
  {
    method: "POST",
    path: "/v2/reserved-ips/{reserved-ip}/attach",
    request: obj({ instance_id: str }, ["instance_id"]),
    success: { status: 204 },
  },
  { method: "POST", path: "/v2/reserved-ips/{reserved-ip}/detach", success: { status: 204 } },

  { method: "GET", path: "/v2/domains", query: PAGING, success: { status: 200, body: list("domains", domain) } },
  {
    method: "POST",
    path: "/v2/domains",
    request: obj({ domain: str, ip: str, dns_sec: str }, ["domain"]),
    success: { status: 200, body: one("domain", domain) },
  },
  { method: "GET", path: "/v2/domains/{dns-domain}", success: { status: 200, body: one("domain", domain) } },
  { method: "DELETE", path: "/v2/domains/{dns-domain}", success: { status: 204 } },
  {
    method: "GET",
    path: "/v2/domains/{dns-domain}/records",
    query: PAGING,
    success: { status: 200, body: list("records", dnsRecord) },
  },
  {
    method: "POST",
    path: "/v2/domains/{dns-domain}/records",
    request: obj({ name: str, type: str, data: str, ttl: int, priority: int }, ["name", "type", "data"]),
    success: { status: 201, body: one("record", dnsRecord) },
  },
  {
    method: "GET",
    path: "/v2/domains/{dns-domain}/records/{record-id}",
    success: { status: 200, body: one("record", dnsRecord) },
  },
  {
    method: "PATCH",
    path: "/v2/domains/{dns-domain}/records/{record-id}",
    request: obj({ name: str, data: str, ttl: int, priority: int }),
    success: { status: 204 },
  },
  { method: "DELETE", path: "/v2/domains/{dns-domain}/records/{record-id}", success: { status: 204 } },

  {
    method: "GET",
    path: "/v2/object-storage/clusters",
    query: PAGING,
    success: { status: 200, body: list("clusters", cluster) },
  },
  // govultr ListTiers and ListClusterTiers: {"tiers": [...]}, not paged.
  {
    method: "GET",
    path: "/v2/object-storage/tiers",
    success: { status: 200, body: one("tiers", { type: "array", items: tier }) },
  },
  {
    method: "GET",
    path: "/v2/object-storage/clusters/{cluster-id}/tiers",
    success: { status: 200, body: one("tiers", { type: "array", items: tier }) },
  },
  {
    method: "GET",
    path: "/v2/object-storage",
    query: PAGING,
    success: { status: 200, body: list("object_storages", listedObjectStorage) },
  },
  {
    method: "POST",
    path: "/v2/object-storage",
    // tier_id: govultr ObjectStorageReq (Vultr refuses a create without one since the tiers came).
    request: obj({ cluster_id: int, tier_id: int, label: str }, ["cluster_id"]),
    success: { status: 202, body: one("object_storage", objectStorage) },
  },
  {
    method: "GET",
    path: "/v2/object-storage/{object-storage-id}",
    success: { status: 200, body: one("object_storage", objectStorage) },
  },
  {
    method: "PUT",
    path: "/v2/object-storage/{object-storage-id}",
    request: obj({ label: str }, ["label"]),
    success: { status: 204 },
  },
  { method: "DELETE", path: "/v2/object-storage/{object-storage-id}", success: { status: 204 } },
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
