// Reads the host's templates from templates/: the only file access of the
// host layer, so everything else works on plain strings.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ALERT_RULE_FILES, type AlertRuleFile } from "../monitoring/alert-rules.js";

export const TEMPLATES_DIR = join(import.meta.dirname, "../../templates");

/** The files the bootstrap installs, relative to templates/host/. */
export const BOOTSTRAP_FILES = [
  "bootstrap.sh",
  "lib.sh",
  "firewall.sh",
  "ssh-access.sh",
  "bootstrap/checks.sh",
  "bootstrap/packages.sh",
  "bootstrap/access.sh",
  "bootstrap/hardening.sh",
  "bootstrap/runtime.sh",
  "sudo/90-platform-deploy",
  "ssh/00-platform-hardening.conf",
  "fail2ban/jail.local",
  "sysctl/99-platform.conf",
  "apt/20auto-upgrades",
  "apt/52platform-unattended-upgrades",
  "apt/53platform-vendor-upgrades",
  "logrotate/platform",
  "security/modprobe-blacklist.conf",
  "security/limits-nocore.conf",
  "security/coredump.conf",
  "security/profile-session.sh",
  "security/issue",
  "docker/metadata-guard.sh",
  "docker/platform-metadata-guard.service",
] as const;

/** The deploy steps' scripts, under templates/host/steps/. */
export const STEP_SCRIPTS = [
  "wait",
  "host-key",
  "caddy",
  "release",
  "stack",
  "backups",
  "monitoring",
  "verify",
] as const;

/** The day-2 commands' host scripts, under templates/host/ops/. */
export const OPS_SCRIPTS = [
  "switch-release",
  "releases",
  "restart",
  "status",
  "logs",
  "restore-window",
  "record-backup",
] as const;

/** The monitoring step's files, under templates/host/monitoring/. */
export const MONITORING_FILES = [
  "prometheus.yml",
  "blackbox.yml",
  "alertmanager.yml",
  "prometheus.conf",
  "alertmanager.conf",
  "node-exporter.conf",
  "blackbox-exporter.conf",
  "textfile-metrics.sh",
  "platform-textfile-metrics.service",
  "platform-textfile-metrics.timer",
  "dashboard.html",
] as const;

export interface Templates {
  bootstrap: Record<(typeof BOOTSTRAP_FILES)[number], string>;
  /** templates/host/lib.sh, which every step and the bootstrap source. */
  lib: string;
  steps: Record<(typeof STEP_SCRIPTS)[number], string>;
  ops: Record<(typeof OPS_SCRIPTS)[number], string>;
  caddyfile: string;
  caddyEnv: string;
  caddyDropIn: string;
  /** The scheduled backup's systemd units and the script the service runs (templates/host/backup/). */
  backupService: string;
  backupTimer: string;
  backupRun: string;
  backupBucketEnv: string;
  backupRecipientsEnv: string;
  compose: string;
  natsConf: string;
  /** Who may connect to NATS and what each may do; the users are rendered in (infra/host/nats-users.ts). */
  natsAuth: string;
  /** A clustered node's place in the NATS cluster; rendered per node by infra/cluster/nats-cluster-config.ts. */
  natsCluster: string;
  stackEnv: string;
  /** The host's monitoring (templates/host/monitoring/): configuration, systemd drop-ins, the textfile metrics' writer. */
  monitoring: Record<(typeof MONITORING_FILES)[number], string>;
  /** The alert rules with their threshold placeholders (templates/host/monitoring/rules/, infra/monitoring/alert-rules.ts). */
  alertRules: Record<AlertRuleFile, string>;
}

export function loadTemplates(dir = TEMPLATES_DIR): Templates {
  const read = (path: string) => readFileSync(join(dir, path), "utf8");
  return {
    bootstrap: Object.fromEntries(BOOTSTRAP_FILES.map((f) => [f, read(`host/${f}`)])) as Templates["bootstrap"],
    lib: read("host/lib.sh"),
    steps: Object.fromEntries(STEP_SCRIPTS.map((s) => [s, read(`host/steps/${s}.sh`)])) as Templates["steps"],
    ops: Object.fromEntries(OPS_SCRIPTS.map((s) => [s, read(`host/ops/${s}.sh`)])) as Templates["ops"],
    caddyfile: read("host/caddy/Caddyfile"),
    caddyEnv: read("host/caddy/platform.env"),
    caddyDropIn: read("host/caddy/caddy-platform.conf"),
    backupService: read("host/backup/platform-backup.service"),
    backupTimer: read("host/backup/platform-backup.timer"),
    backupRun: read("host/backup/run.sh"),
    backupBucketEnv: read("host/backup/bucket.env"),
    backupRecipientsEnv: read("host/backup/recipients.env"),
    compose: read("stack/docker-compose.prod.yml"),
    natsConf: read("stack/nats-server.conf"),
    natsAuth: read("stack/nats-auth.conf"),
    natsCluster: read("stack/nats-cluster.conf"),
    stackEnv: read("stack/stack.env"),
    monitoring: Object.fromEntries(
      MONITORING_FILES.map((f) => [f, read(`host/monitoring/${f}`)]),
    ) as Templates["monitoring"],
    alertRules: Object.fromEntries(
      ALERT_RULE_FILES.map((f) => [f, read(`host/monitoring/rules/${f}`)]),
    ) as Templates["alertRules"],
  };
}
