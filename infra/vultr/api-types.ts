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
