// The Pulumi program: one production environment. Configuration is read and
// validated first, so a bad value stops everything before any resource is
// touched; then the server (a new Vultr instance, or one you have), then the
// host steps that make it run the platform.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { HostConfiguration, type LateStep } from "./components/host-configuration.js";
import { DataProtection } from "./components/data-protection.js";
import { InstalledHostKey } from "./components/installed-host-key.js";
import { KnownHost } from "./components/known-host.js";
import { VultrEnvironment } from "./components/vultr-environment.js";
import { readStackConfig } from "./config/read.js";
import { stackWarnings } from "./config/warnings.js";
import { backupsStep, hostSteps, type HostStep } from "./host/steps.js";
import { loadTemplates } from "./host/templates.js";
import { renderAlertmanagerConfig } from "./monitoring/alertmanager-config.js";
import { renderAlertRules } from "./monitoring/alert-rules.js";
import { POLICY_PACK_ENV, policyPackRefusal } from "./policies/pack-required.js";
import { PROVIDERS_BUNDLE } from "./providers/dynamic.js";

const ROOT = join(import.meta.dirname, "..");
// First, so a stock `pulumi up` (no policy pack) stops before anything else.
const refusal = policyPackRefusal({ given: process.env[POLICY_PACK_ENV], projectDir: ROOT });
// RunError: the message alone, without a stack trace.
if (refusal) throw new pulumi.RunError(refusal);
const BUNDLE = join(ROOT, "dist/api.cjs");
const BACKUP_BUNDLE = join(ROOT, "dist/backup.cjs");
for (const file of [BUNDLE, BACKUP_BUNDLE, join(ROOT, PROVIDERS_BUNDLE)]) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" before pulumi (npm run up does).`);
}

const config = readStackConfig();
const templates = loadTemplates();
// Logical names are fixed: renaming the host (config hostname) must not
// rename, and so replace, every resource.
const vultr =
  config.server.kind === "vultr"
    ? new VultrEnvironment("platform", {
        server: config.server,
        stack: config.stack,
        domain: config.domain,
        apiSubdomain: config.apiSubdomain,
        adminCidrs: config.adminCidrs,
        sshPort: config.sshPort,
        deployUser: config.deployUser,
        sshPublicKey: config.sshPublicKey,
      })
    : undefined;
const address = vultr
  ? vultr.server.ipv4
  : pulumi.output(config.server.kind === "existing" ? config.server.address : "");

// The server's SSH host key, which every host step pins: the config's when it
// gives one; else, on the Vultr server the program made, a key it made that
// replaced the first-boot key (which the user data keeps handing out); else
// the key an existing server presents on the first up, learnt once (and said so).
const installedHostKey =
  !config.sshHostKey && vultr
    ? new InstalledHostKey("platform-server-host-key", {
        host: address,
        port: config.sshPort,
        user: config.deployUser,
        privateKey: pulumi.secret(config.sshPrivateKey),
        dialTimeoutSeconds: config.sshDialTimeout,
        firstBootKey: vultr.firstBootKey,
        server: vultr.server.instanceId,
        templates,
        after: [vultr.firewall],
      })
    : undefined;
const hostKey: pulumi.Output<string> = config.sshHostKey
  ? pulumi.output(config.sshHostKey)
  : installedHostKey
    ? installedHostKey.publicKey
    : new KnownHost("platform-known-host", {
        host: address,
        port: config.sshPort,
        dialTimeoutSeconds: config.sshDialTimeout,
      }).publicKey;

// Backups: to the stack's own bucket (backupS3*), to the Vultr bucket it
// creates (whose keys exist only once it does), or kept on the host.
const backupBundle = readFileSync(BACKUP_BUNDLE);
const { schedule, keep, ownBucket, recipients } = config.backups;
const vultrBucket = vultr?.backups;
const backups: HostStep | LateStep = vultrBucket
  ? {
      name: "backups",
      secret: true,
      late: pulumi
        .all([vultrBucket.endpoint, vultrBucket.bucketName, vultrBucket.accessKey, vultrBucket.secretKey])
        .apply(([endpoint, bucket, accessKey, secretKey]) =>
          backupsStep(
            templates,
            { schedule, keep, recipients, bucket: { endpoint, bucket, accessKey, secretKey } },
            backupBundle,
            BACKUP_BUNDLE,
          ),
        ),
    }
  : backupsStep(templates, { schedule, keep, recipients, bucket: ownBucket }, backupBundle, BACKUP_BUNDLE);

const host = new HostConfiguration("platform-host", {
  host: address,
  port: config.sshPort,
  user: config.deployUser,
  privateKey: pulumi.secret(config.sshPrivateKey),
  hostKey,
  dialTimeoutSeconds: config.sshDialTimeout,
  // A replaced instance gets a new id: every step runs again on it.
  triggers: [vultr ? vultr.server.instanceId : address],
  steps: hostSteps(
    templates,
    {
      deployUser: config.deployUser,
      deploySshKey: config.sshPublicKey,
      adminCidrs: config.adminCidrs.map((c) => `${c.address}/${c.prefix}`),
      sshPort: config.sshPort,
      apiHost: config.apiHost,
      acmeEmail: config.acmeEmail,
      packageSource: config.packageSource,
      tlsIssuer: config.tlsIssuer,
    },
    config.app,
    readFileSync(BUNDLE),
    BUNDLE,
    backups,
    {
      ...config.monitoring,
      rules: renderAlertRules(templates.alertRules, config.alertThresholds),
      alertmanager: renderAlertmanagerConfig(config.alertReceivers),
    },
  ),
  // The certificate check at the end needs the API's name to point here.
  verifyAfter: vultr ? [vultr.dns] : [],
  // A new sshPort is reachable through Vultr's firewall before the first step dials it.
  after: vultr ? [vultr.firewall] : [],
});

// On Vultr: a destroy (or a replacement) must not take the data by accident.
if (config.server.kind === "vultr") {
  new DataProtection({
    protect: config.server.protectData,
    everything: [vultr!, host, ...(installedHostKey ? [installedHostKey] : [])],
  });
}
for (const warning of stackWarnings(config)) pulumi.log.warn(warning);

// Outputs that do not apply to this stack are null (a Vultr-only value on an
// existing server, the backup keys without backupsBucket).
export const ipv4 = address;
export const apiUrl = `https://${config.apiHost}`;
// Through ops: it trusts only the pinned host key (a plain `ssh` would trust
// whatever key answers first, and remember it).
export const sshCommand = `npm run ops -- ssh --stack ${pulumi.getStack()}`;
/** The pinned host key: what `npm run ops` pins too. */
export const sshHostKey = hostKey;
export const health = host.verified;
export const ipv6 = vultr ? vultr.server.ipv6 : null;
export const nameservers =
  config.server.kind === "vultr" && config.server.createDnsZone ? ["ns1.vultr.com", "ns2.vultr.com"] : null;
export const backupEndpoint = vultrBucket?.endpoint ?? ownBucket?.endpoint ?? null;
export const backupBucket = vultrBucket?.bucketName ?? ownBucket?.bucket ?? null;
export const backupAccessKey = vultrBucket?.accessKey ?? (ownBucket ? pulumi.secret(ownBucket.accessKey) : null);
export const backupSecretKey = vultrBucket?.secretKey ?? (ownBucket ? pulumi.secret(ownBucket.secretKey) : null);
