// The JSON shapes of the Vultr API v2 that the providers read and send, with
// Vultr's own snake_case names. The field names come from the Go client
// github.com/vultr/govultr/v3 (the file is named above each type); only the
// fields used here are listed.

/** instance.go `Instance`; answers wrap it as {"instance": ...}. */
export interface ApiInstance {
  id: string;
  os: string;
  os_id: number;
  plan: string;
  region: string;
  label: string;
  hostname: string;
  /** "pending" while provisioning, then "active" (also "suspended", "resizing"). */
  status: string;
  power_status: string;
  server_status: string;
  /** "0.0.0.0" until an address is assigned. */
  main_ip: string;
  v6_main_ip: string;
  /** The private address in its VPC; "" without one (and until it is assigned). */
  internal_ip?: string;
  v6_network: string;
  firewall_group_id: string;
  features: string[];
  tags: string[];
  date_created: string;
  /** Only in the create answer: the root password. Never kept in state. */
  default_password?: string;
}

/** instance.go `InstanceCreateReq`: the fields this provider sends. */
export interface ApiInstanceCreate {
  region: string;
  plan: string;
  os_id: number;
  hostname: string;
  label: string;
  tags: string[];
  enable_ipv6: boolean;
  backups: "enabled" | "disabled";
  activation_email: boolean;
  ddos_protection: boolean;
  sshkey_id: string[];
  firewall_group_id?: string;
  /** The reserved IP's id: it becomes the instance's main IPv4. */
  reserved_ipv4?: string;
  /** Base64 of the cloud-init document. */
  user_data?: string;
  /** The VPCs to attach at creation (older clients sent `enable_vpc`). */
  attach_vpc?: string[];
}

/** instance.go `InstanceUpdateReq`: only the fields that changed are sent. */
export interface ApiInstanceUpdate {
  plan?: string;
  label?: string;
  tags?: string[];
  enable_ipv6?: boolean;
  backups?: "enabled" | "disabled";
  ddos_protection?: boolean;
  firewall_group_id?: string;
}

/** instance.go `Upgrades`, from GET /v2/instances/{id}/upgrades. */
export interface ApiUpgrades {
  plans?: string[];
}

/** os.go `OS`. */
export interface ApiOs {
  id: number;
  name: string;
  arch: string;
  family: string;
}

/** firewall_group.go `FirewallGroup`. */
export interface ApiFirewallGroup {
  id: string;
  description: string;
  date_created: string;
  date_modified: string;
  instance_count: number;
  rule_count: number;
  max_rule_count: number;
}

/** firewall_rule.go `FirewallRule`; its id is a number, unique within the group. */
export interface ApiFirewallRule {
  id: number;
  action: string;
  ip_type: string;
  protocol: string;
  port: string;
  subnet: string;
  subnet_size: number;
  source: string;
  notes: string;
}

/** ssh_key.go `SSHKey`. */
export interface ApiSshKey {
  id: string;
  name: string;
  ssh_key: string;
  date_created: string;
}

/** reserved_ip.go `ReservedIP`; `subnet` is the address itself. */
export interface ApiReservedIp {
  id: string;
  region: string;
  ip_type: string;
  subnet: string;
  subnet_size: number;
  label: string;
  /** "" when detached. */
  instance_id: string;
}

/** domain.go `Domain`. */
export interface ApiDomain {
  domain: string;
  date_created: string;
  dns_sec: string;
}

/** domain_record.go `DomainRecord`. */
export interface ApiDomainRecord {
  id: string;
  type: string;
  name: string;
  data: string;
  priority: number;
  ttl: number;
}

/** object_storage.go `ObjectStorageCluster`; `deploy` is "yes" where new subscriptions are allowed. */
export interface ApiObjectStorageCluster {
  id: number;
  region: string;
  hostname: string;
  deploy: string;
}

/** object_storage.go `ObjectStorageTier`, from GET /v2/object-storage/clusters/{id}/tiers. */
export interface ApiObjectStorageTier {
  id: number;
  sales_name: string;
  sales_desc: string;
  price: number;
  is_default: string;
  slug: string;
}

/** object_storage.go `ObjectStorage` with its embedded `S3Keys`. */
export interface ApiObjectStorage {
  id: string;
  date_created: string;
  cluster_id: number;
  region: string;
  location: string;
  label: string;
  /** "pending" until the keys exist, then "active". */
  status: string;
  s3_hostname: string;
  s3_access_key: string;
  s3_secret_key: string;
}

/** vpc.go `VPC`; the subnet is the network address, the mask its prefix length. */
export interface ApiVpc {
  id: string;
  region: string;
  description: string;
  v4_subnet: string;
  v4_subnet_mask: number;
  date_created: string;
}

/** load_balancer.go `HealthCheck`. */
export interface ApiHealthCheck {
  protocol: string;
  port: number;
  path?: string;
  check_interval: number;
  response_timeout: number;
  unhealthy_threshold: number;
  healthy_threshold: number;
}

/** load_balancer.go `ForwardingRule`; `id` only in answers. */
export interface ApiForwardingRule {
  id?: string;
  frontend_protocol: string;
  frontend_port: number;
  backend_protocol: string;
  backend_port: number;
}

/** load_balancer.go `LBFirewallRule`; `source` is a network in CIDR form (or "cloudflare"). */
export interface ApiLoadBalancerFirewallRule {
  id?: string;
  port: number;
  source: string;
  ip_type: string;
}

/** load_balancer.go `LoadBalancer`: the settings of the create request come back under generic_info. */
export interface ApiLoadBalancer {
  id: string;
  date_created: string;
  region: string;
  label: string;
  /** "pending" while it is set up, then "active". */
  status: string;
  ipv4: string;
  ipv6: string;
  nodes?: number;
  instances?: string[];
  http2?: boolean;
  health_check?: ApiHealthCheck;
  generic_info?: {
    balancing_algorithm?: string;
    ssl_redirect?: boolean;
    proxy_protocol?: boolean;
    timeout?: number;
    vpc?: string;
  };
  forwarding_rules?: ApiForwardingRule[];
  firewall_rules?: ApiLoadBalancerFirewallRule[];
}

/** load_balancer.go `LoadBalancerReq`: the fields this provider sends (a PATCH only those that changed). */
export interface ApiLoadBalancerRequest {
  region?: string;
  label?: string;
  balancing_algorithm?: string;
  proxy_protocol?: boolean;
  ssl_redirect?: boolean;
  http2?: boolean;
  nodes?: number;
  timeout?: number;
  health_check?: ApiHealthCheck;
  forwarding_rules?: ApiForwardingRule[];
  firewall_rules?: ApiLoadBalancerFirewallRule[];
  instances?: string[];
  /** "" takes it off the VPC (back to the public network). */
  vpc?: string;
}
