// The stack's whole configuration, read and checked in one place. Every
// value is validated before any resource is declared; a bad one stops the
// program with the key, the problem and the fix.
import { isIP } from "node:net";
import { API_SETTINGS, checkApiSettings } from "./api-settings.js";
import { formatCidr, parseCidr, type Cidr } from "./cidr.js";
import { StackConfigError } from "./errors.js";
import { ENV_SAFE } from "../host/render.js";
import { parseSshHostKey } from "./ssh-host-key.js";
import { parseBackupRecipients, parseOwnBucket, type BackupSettings } from "./backup-settings.js";
import { MONITORING_DEFAULTS, parseMonitoringSettings, type MonitoringSettings } from "./monitoring-settings.js";
import { parseAlertThresholds, type AlertThresholds } from "./alert-thresholds.js";
import { pinnedImage } from "./pinned-image.js";
import { ALERT_RECEIVER_KEYS, parseAlertReceivers, type AlertReceivers } from "./alert-receivers.js";
import { optionalSecret, parsePreviousJwtSecret, parsePrivateKey, secret } from "./secrets.js";

export const PROJECT = "conversational-platform";

/** The stack's own keys, their type and default. */
const STACK_KEYS = {
  region: { type: "string", default: "ewr" },
  plan: { type: "string", default: "vhp-2c-4gb-amd" },
  osName: { type: "string", default: "Ubuntu 24.04 LTS x64" },
  hostname: { type: "string", default: "chat-platform" },
  existingServer: { type: "string", default: "" },
  sshPort: { type: "integer", default: 22 },
  deployUser: { type: "string", default: "deploy" },
  sshDialTimeout: { type: "integer", default: 600 },
  domain: { type: "string" },
  apiSubdomain: { type: "string", default: "api" },
  createDnsZone: { type: "boolean", default: true },
  adminCidrs: { type: "array" },
  sshPublicKey: { type: "string" },
  sshPrivateKey: { type: "string", secret: true },
  sshHostKey: { type: "string", default: "" },
  reservedIp: { type: "boolean", default: true },
  backupsBucket: { type: "boolean", default: false },
  backupsRegion: { type: "string", default: "" },
  // Data that cannot be destroyed by accident (infra/components/data-protection.ts).
  protectData: { type: "boolean", default: true },
  allowReplace: { type: "boolean", default: false },
  backupSchedule: { type: "string", default: "hourly" },
  backupKeep: { type: "integer", default: 48 },
  backupS3Endpoint: { type: "string", default: "" },
  backupS3Bucket: { type: "string", default: "" },
  // Optional secrets: Pulumi refuses a default for a key it knows is secret,
  // so the program checks they are stored encrypted (parseOwnBucket).
  backupS3AccessKey: { type: "string", default: "" },
  backupS3SecretKey: { type: "string", default: "" },
  backupRecipients: { type: "string", default: "" },
  acmeEmail: { type: "string" },
  tlsIssuer: { type: "string", default: "letsencrypt" },
  packageSource: { type: "string", default: "official" },
  natsToken: { type: "string", secret: true },
  jwtSecret: { type: "string", secret: true },
  // Set by `npm run ops -- rotate` while a rotation's overlap lasts; optional
  // secrets, checked to be stored encrypted (optionalSecret).
  natsPreviousToken: { type: "string", default: "" },
  jwtPreviousSecret: { type: "string", default: "" },
  jwtPreviousSecretUntil: { type: "string", default: "" },
  llmProvider: { type: "string", default: "anthropic" },
  llmApiKey: { type: "string", secret: true },
  // No default: a tag is refused (pinnedImage), and the digest is the operator's to choose.
  apiImage: { type: "string" },
  natsImage: { type: "string" },
  allowImageTags: { type: "boolean", default: false },
  monitoringRetention: { type: "string", default: MONITORING_DEFAULTS.retention },
  monitoringRetentionSize: { type: "string", default: MONITORING_DEFAULTS.retentionSize },
  // The alert rules' thresholds, each key optional (alert-thresholds.ts).
  alertThresholds: { type: "object", default: {} },
  // Where alerts go (alert-receivers.ts).
  ...ALERT_RECEIVER_KEYS,
} as const;

export type ConfigKey = keyof typeof STACK_KEYS;

interface KeySpec {
  type: "string" | "integer" | "boolean" | "array" | "object";
  default?: string | number | boolean | Record<string, never>;
  secret?: boolean;
}

/** Every key the program reads: Pulumi.yaml declares the same (a test checks). An API setting's "" leaves the API's own default. */
export const CONFIG_SCHEMA: Readonly<Record<string, KeySpec>> = {
  ...STACK_KEYS,
  ...Object.fromEntries(API_SETTINGS.map((s) => [s.key, { type: "string", default: "" }])),
};

/** A new Vultr instance with its firewall, DNS and optional extras. */
export interface VultrServer {
  kind: "vultr";
  region: string;
  plan: string;
  osName: string;
  hostname: string;
  createDnsZone: boolean;
  reservedIp: boolean;
  backupsBucket: boolean;
  backupsRegion: string;
  tags: string[];
  /** The instance, reserved IP, DNS zone and Object Storage are `protect`ed: destroy and replace refuse them. */
  protectData: boolean;
  /** The operator allows a plan that replaces the instance (and loses its disk). */
  allowReplace: boolean;
}

/** A server that exists already, anywhere: only the host steps run. */
export interface ExistingServer {
  kind: "existing";
  /** Its address or DNS name, as SSH reaches it. */
  address: string;
}

export interface StackConfig {
  stack: string;
  server: VultrServer | ExistingServer;
  domain: string;
  apiSubdomain: string;
  /** The API's public host name, e.g. api.example.com. */
  apiHost: string;
  adminCidrs: Cidr[];
  sshPort: number;
  /** The user every host step logs in as: created by cloud-init on Vultr, by you on an existing server. */
  deployUser: string;
  /** Seconds to keep dialling SSH before failing with advice. */
  sshDialTimeout: number;
  sshPublicKey: string;
  /** Plaintext here; the reader hands it on only wrapped in pulumi.secret(). */
  sshPrivateKey: string;
  /** The server's public host key, when the config pins it; else made (Vultr) or learnt once (existing server). */
  sshHostKey?: string;
  acmeEmail: string;
  /** "letsencrypt" in production; "internal" (Caddy's own CA) for hosts the internet cannot reach. */
  tlsIssuer: "letsencrypt" | "internal";
  /** "official": Docker's and Caddy's apt repositories; "distro": the OS's own packages. */
  packageSource: "official" | "distro";
  backups: BackupSettings;
  /** How much history the host's Prometheus keeps (monitoring-settings.ts). */
  monitoring: MonitoringSettings;
  /** Where the alert rules fire (templates/host/monitoring/rules). */
  alertThresholds: AlertThresholds;
  /** Where Alertmanager sends the alerts, and the heartbeat's URL. Secrets in plaintext here (see sshPrivateKey). */
  alertReceivers: AlertReceivers;
  /** The API's own settings, pushed to the host in its .env. Secrets in plaintext here (see sshPrivateKey). */
  app: {
    natsToken: string;
    /** The NATS secret a rotation is replacing: its users still work until the rotation ends. */
    natsPreviousToken?: string;
    jwtSecret: string;
    /** The JWT secret a rotation replaced, accepted until `until` (ISO 8601) or until it is removed. */
    jwtPreviousSecret?: { secret: string; until?: string };
    llmProvider: "anthropic" | "openai" | "mock";
    llmApiKey: string;
    apiImage: string;
    natsImage: string;
    /** The API settings the stack sets (api-settings.ts), by environment variable. */
    apiSettings: Record<string, string>;
  };
}

export interface RawConfig {
  /** Values as Pulumi stores them: strings, with arrays and objects as JSON. */
  values: Partial<Record<string, string>>;
  /** Keys whose value is stored encrypted (`pulumi config set --secret`). */
  secretKeys: ReadonlySet<string>;
  stack: string;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseStackConfig(raw: RawConfig): StackConfig {
  const text = (key: ConfigKey): string | undefined => {
    const value = raw.values[key]?.trim();
    if (value !== undefined && value !== "") return value;
    const fallback = (CONFIG_SCHEMA[key] as { default?: unknown }).default;
    if (typeof fallback === "number") return String(fallback);
    return typeof fallback === "string" && fallback !== "" ? fallback : undefined;
  };
  const required = (key: ConfigKey, example: string): string => {
    const value = text(key);
    if (value === undefined)
      throw new StackConfigError(key, "is not set", `Set it: pulumi config set ${key} ${example}`);
    return value;
  };
  const flag = (key: ConfigKey): boolean => {
    const value = raw.values[key]?.trim();
    if (value === undefined || value === "") return (CONFIG_SCHEMA[key] as { default: boolean }).default;
    if (value === "true" || value === "false") return value === "true";
    throw new StackConfigError(key, `is "${value}", not a boolean`, `Use: pulumi config set ${key} true (or false)`);
  };
  const matching = (key: ConfigKey, pattern: RegExp, what: string, example: string): string => {
    const value = required(key, example);
    if (!pattern.test(value))
      throw new StackConfigError(key, `"${value}" is not ${what}`, `Use e.g.: pulumi config set ${key} ${example}`);
    return value;
  };

  const domain = matching(
    "domain",
    /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    "a domain name",
    "example.com",
  );
  const apiSubdomain = required("apiSubdomain", "api");
  if (apiSubdomain !== "@" && !LABEL.test(apiSubdomain)) {
    throw new StackConfigError(
      "apiSubdomain",
      `"${apiSubdomain}" is not a single DNS label`,
      'Use e.g. "api", or "@" for the domain itself',
    );
  }

  const number = (key: ConfigKey, max: number, example: string): number => {
    const value = Number(matching(key, /^[1-9][0-9]*$/, "a positive whole number", example));
    if (value > max)
      throw new StackConfigError(key, `is ${value}, more than ${max}`, `Use e.g.: pulumi config set ${key} ${example}`);
    return value;
  };

  const existing = text("existingServer");
  let server: VultrServer | ExistingServer;
  if (existing !== undefined) {
    if (!HOST.test(existing) && !isIP(existing)) {
      throw new StackConfigError(
        "existingServer",
        `"${existing}" is not an IP address or a host name`,
        "Use e.g.: pulumi config set existingServer 203.0.113.10",
      );
    }
    // A key that only makes sense on Vultr is a sign of a mixed-up stack.
    // (The engine passes Pulumi.yaml's defaults as values: only a changed one counts.)
    const vultrOnly = VULTR_ONLY_KEYS.filter((key) => {
      const value = raw.values[key]?.trim();
      const fallback = (CONFIG_SCHEMA[key] as { default?: unknown }).default;
      return value !== undefined && value !== "" && value !== String(fallback);
    });
    if (vultrOnly.length > 0) {
      throw new StackConfigError(
        vultrOnly[0]!,
        `is set, but existingServer says this stack uses a server of its own and creates nothing on Vultr`,
        `Remove it (pulumi config rm ${vultrOnly[0]}), or remove existingServer to create a Vultr instance`,
      );
    }
    server = { kind: "existing", address: existing };
  } else {
    const region = matching("region", /^[a-z]{3}$/, "a Vultr region id", "ewr");
    server = {
      kind: "vultr",
      region,
      plan: matching("plan", /^[a-z0-9]+(-[a-z0-9]+)+$/, "a Vultr plan id", "vhp-2c-4gb-amd"),
      osName: required("osName", '"Ubuntu 24.04 LTS x64"'),
      hostname: matching("hostname", LABEL, "a host name (lowercase letters, digits, '-')", "chat-platform"),
      createDnsZone: flag("createDnsZone"),
      reservedIp: flag("reservedIp"),
      backupsBucket: flag("backupsBucket"),
      backupsRegion: text("backupsRegion") ?? region,
      tags: [PROJECT, `stack-${raw.stack}`],
      protectData: flag("protectData"),
      allowReplace: flag("allowReplace"),
    };
  }

  const llmProvider = oneOf(required("llmProvider", "anthropic"), "llmProvider", [
    "anthropic",
    "openai",
    "mock",
  ] as const);
  const sshPublicKey = matching(
    "sshPublicKey",
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/,
    "an OpenSSH public key",
    '"$(cat ~/.ssh/id_ed25519.pub)"',
  );
  return {
    stack: raw.stack,
    server,
    domain,
    apiSubdomain,
    apiHost: apiSubdomain === "@" ? domain : `${apiSubdomain}.${domain}`,
    adminCidrs: parseAdminCidrs(raw.values.adminCidrs),
    sshPort: number("sshPort", 65535, "22"),
    deployUser: matching("deployUser", /^[a-z_][a-z0-9_-]{0,31}$/, "a Linux user name", "deploy"),
    sshDialTimeout: number("sshDialTimeout", 86_400, "600"),
    sshPublicKey,
    sshPrivateKey: parsePrivateKey(raw, sshPublicKey),
    sshHostKey: parseSshHostKey(raw.values.sshHostKey),
    acmeEmail: matching("acmeEmail", /^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i, "an e-mail address", "ops@example.com"),
    tlsIssuer: oneOf(required("tlsIssuer", "letsencrypt"), "tlsIssuer", ["letsencrypt", "internal"] as const),
    packageSource: oneOf(required("packageSource", "official"), "packageSource", ["official", "distro"] as const),
    backups: {
      schedule: matching("backupSchedule", /^[A-Za-z0-9*:,./~ -]{1,100}$/, "a systemd calendar expression", "hourly"),
      keep: number("backupKeep", 10_000, "48"),
      ownBucket: parseOwnBucket(raw, server),
      recipients: parseBackupRecipients(raw),
    },
    monitoring: parseMonitoringSettings(raw),
    alertThresholds: parseAlertThresholds(raw),
    alertReceivers: parseAlertReceivers(raw),
    app: {
      natsToken: secret(raw, "natsToken", 16, "openssl rand -base64 32 | pulumi config set --secret natsToken"),
      natsPreviousToken: optionalSecret(raw, "natsPreviousToken", 16),
      jwtSecret: secret(raw, "jwtSecret", 32, "openssl rand -base64 48 | pulumi config set --secret jwtSecret"),
      jwtPreviousSecret: parsePreviousJwtSecret(raw),
      llmProvider,
      llmApiKey: secret(raw, "llmApiKey", 1, "pulumi config set --secret llmApiKey <your provider's API key>"),
      apiImage: pinnedImage("apiImage", text("apiImage"), "node:24-bookworm-slim", flag("allowImageTags")),
      natsImage: pinnedImage("natsImage", text("natsImage"), "nats:2.10-alpine", flag("allowImageTags")),
      apiSettings: parseApiSettings(raw, llmProvider),
    },
  };
}

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Keys that describe Vultr resources, meaningless for an existing server. */
const VULTR_ONLY_KEYS: ConfigKey[] = [
  "region",
  "plan",
  "osName",
  "hostname",
  "createDnsZone",
  "reservedIp",
  "backupsBucket",
  "backupsRegion",
  "protectData",
  "allowReplace",
];

/** The API settings the stack sets, checked by the API's own reader. */
function parseApiSettings(raw: RawConfig, provider: "anthropic" | "openai" | "mock"): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const setting of API_SETTINGS) {
    const value = raw.values[setting.key]?.trim();
    if (value === undefined || value === "") continue;
    if (!ENV_SAFE.test(value)) {
      throw new StackConfigError(
        setting.key,
        `"${value}" has characters the host's env file cannot hold (spaces, quotes, $, #)`,
        `Write it without them, e.g. "a,b" for a list: pulumi config set ${setting.key} ...`,
      );
    }
    settings[setting.env] = value;
  }
  const problem = checkApiSettings(settings, provider);
  if (problem) {
    throw new StackConfigError(
      problem.key,
      problem.problem,
      `Change it (pulumi config set ${problem.key} ...), or remove it for the API's default (pulumi config rm ${problem.key})`,
    );
  }
  return settings;
}

function oneOf<T extends string>(value: string, key: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new StackConfigError(key, `is "${value}"`, `Use one of: ${allowed.join(", ")}`);
}

function parseAdminCidrs(value: string | undefined): Cidr[] {
  const fix = "List the addresses allowed to SSH in: pulumi config set --path 'adminCidrs[0]' 203.0.113.7/32";
  if (value === undefined || value.trim() === "") throw new StackConfigError("adminCidrs", "is not set", fix);
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    throw new StackConfigError("adminCidrs", "is not a list", fix);
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new StackConfigError("adminCidrs", "is an empty list or not a list", fix);
  return list.map((item, i) => {
    const cidr = parseCidr(String(item));
    if (cidr instanceof Error) throw new StackConfigError(`adminCidrs[${i}]`, cidr.message, fix);
    if (cidr.prefix === 0) {
      throw new StackConfigError(`adminCidrs[${i}]`, `"${formatCidr(cidr)}" would open SSH to the whole internet`, fix);
    }
    return cidr;
  });
}
