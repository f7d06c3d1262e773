// The Pulumi program: one production environment on Vultr. Configuration is
// read and validated first, so a bad value stops everything before any
// resource is touched; then one component per concern.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { BackupBucket } from "./components/backup-bucket.js";
import { Dns } from "./components/dns.js";
import { Firewall } from "./components/firewall.js";
import { Server } from "./components/server.js";
import { readStackConfig } from "./config/read.js";
import { cloudInit } from "./host/cloud-init.js";
import { HostConfiguration } from "./host/host-configuration.js";
import { hostSteps } from "./host/steps.js";
import { loadTemplates } from "./host/templates.js";

const config = readStackConfig();
const name = config.hostname;
const DEPLOY_USER = "deploy";
const BUNDLE = join(import.meta.dirname, "../dist/api.cjs");
if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run build" before pulumi (npm run up does).`);

const firewall = new Firewall(`${name}-firewall`, {
  adminCidrs: config.adminCidrs,
  description: `${name}: SSH from admins, HTTP(S) from anywhere`,
});
const server = new Server(`${name}-server`, {
  region: config.region,
  plan: config.plan,
  osName: config.osName,
  hostname: config.hostname,
  sshPublicKey: config.sshPublicKey,
  firewallGroupId: firewall.groupId,
  reservedIp: config.reservedIp,
  tags: config.tags,
  userData: cloudInit(DEPLOY_USER, config.sshPublicKey),
});
new Dns(`${name}-dns`, {
  domain: config.domain,
  createZone: config.createDnsZone,
  apiSubdomain: config.apiSubdomain,
  ipv4: server.ipv4,
  ipv6: server.ipv6,
});
const host = new HostConfiguration(`${name}-host`, {
  host: server.ipv4,
  user: DEPLOY_USER,
  privateKey: pulumi.secret(config.sshPrivateKey),
  steps: hostSteps(
    loadTemplates(),
    {
      deployUser: DEPLOY_USER,
      deploySshKey: config.sshPublicKey,
      adminCidrs: config.adminCidrs.map((c) => `${c.address}/${c.prefix}`),
      apiHost: config.apiHost,
      acmeEmail: config.acmeEmail,
      packageSource: "official",
    },
    config.app,
    readFileSync(BUNDLE),
    BUNDLE,
  ),
});
const backups = config.backupsBucket
  ? new BackupBucket(`${name}-backups`, { region: config.backupsRegion, label: `${name}-${config.stack}-backups` })
  : undefined;

export const ipv4 = server.ipv4;
export const ipv6 = server.ipv6;
export const apiUrl = `https://${config.apiHost}`;
export const sshCommand = pulumi.interpolate`ssh deploy@${server.ipv4}`;
export const nameservers = config.createDnsZone ? ["ns1.vultr.com", "ns2.vultr.com"] : undefined;
export const backupEndpoint = backups?.endpoint;
export const backupBucket = backups?.bucketName;
export const backupAccessKey = backups?.accessKey;
export const backupSecretKey = backups?.secretKey;
export const health = host.verified;
