// Everything `pulumi up` does on the host, as plain data: an ordered list of
// steps, each a shell script fed to `bash -s` over SSH. The Pulumi component,
// the ops scripts and the tests all run these same steps. Each step installs
// a file only after validating it on the host, and only if it changed.
import { createHash } from "node:crypto";
import { API_SETTINGS } from "../config/api-settings.js";
import type { MonitoringSettings } from "../config/monitoring-settings.js";
import type { StackConfig } from "../config/stack-config.js";
import { ALERTMANAGER_SECRETS_DIR, type AlertmanagerFiles } from "../monitoring/alertmanager-config.js";
import { renderPrometheusConfig, type ScrapeIntervals } from "../monitoring/prometheus-config.js";
import { natsCredentials, renderNatsAuth } from "./nats-users.js";
import { renderEnvFile, renderTemplate } from "./render.js";
import { asRoot, base64 as b64, hostScript, shellQuote as q } from "./runner/envelope.js";
import { BOOTSTRAP_FILES, type Templates } from "./templates.js";

/** Where the stack lives on a host; `npm run local` uses directories of its own. */
export interface HostPaths {
  appDir: string;
  dataDir: string;
}
export const PRODUCTION_PATHS: HostPaths = {
  appDir: "/opt/conversational-platform",
  dataDir: "/var/lib/platform-data",
};
/** Releases kept on the host for a rollback, besides the current one. */
export const RELEASES_KEPT = 5;

export interface HostSettings {
  deployUser: string;
  deploySshKey: string;
  adminCidrs: string[];
  /** The port sshd listens on: the only one the host's firewall opens, to adminCidrs only. */
  sshPort: number;
  apiHost: string;
  acmeEmail: string;
  /** "official": Docker's and Caddy's own apt repositories; "distro": the OS's packages. */
  packageSource: "official" | "distro";
  /** "letsencrypt", or "internal": Caddy's own CA, for a host the internet cannot reach. */
  tlsIssuer: "letsencrypt" | "internal";
}

/** What the stack step deploys: the API's own settings from the stack's config (StackConfig's `app`). */
export type StackSettings = StackConfig["app"];

export type StepName =
  "wait" | "host-key" | "bootstrap" | "caddy" | "release" | "stack" | "backups" | "monitoring" | "verify";

export interface HostStep {
  name: StepName;
  description: string;
  /** Runs on the host as the deploy user; the script arrives on stdin. */
  command: string;
  script: string;
  /** The script holds secrets: it must travel only as a secret. */
  secret: boolean;
  /** Changes exactly when the script does: the step's re-run trigger. */
  hash: string;
  /** A file to copy to the host before the script runs. */
  upload?: { localPath: string; remotePath: string };
  /**
   * Later steps need a new SSH session: this one changed what a login gets
   * (the deploy user's groups, sshd's settings).
   */
  endsSession?: boolean;
  /** Run again on the next deploy while the last output starts with this (a state still pending). */
  rerunWhileOutputStarts?: string;
  /** A check of what the steps before it did: runs again whenever one of them does. */
  checksEarlierSteps?: boolean;
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The id of a release: the start of its bundle's hash. */
export function releaseId(bundle: Buffer): string {
  return sha256(bundle).slice(0, 12);
}

function step(name: StepName, description: string, command: string, script: string, secret = false): HostStep {
  return { name, description, command, script, secret, hash: sha256(script) };
}

export function waitStep(templates: Templates): HostStep {
  return step(
    "wait",
    "Wait for SSH and for cloud-init to finish",
    "bash -s",
    hostScript(templates, templates.steps.wait, {}),
  );
}

/**
 * Replaces the host key a new server booted with (cloud-init's, from the
 * user data) with `key`, made by the program and kept only in the state
 * (templates/host/steps/host-key.sh). Secret: it carries the private half.
 * Carried out by the host:HostKeyInstall provider, which confirms the new
 * key before anything is pinned to it.
 */
export function hostKeyStep(templates: Templates, key: { publicKey: string; privateKey: string }): HostStep {
  return step(
    "host-key",
    "Replace the first-boot SSH host key (in the user data) with one kept only in the stack's state",
    asRoot("host-key"),
    hostScript(templates, templates.steps["host-key"], {
      HOST_KEY_PUBLIC: key.publicKey.trim().split(/\s+/).slice(0, 2).join(" "),
      HOST_KEY_PRIVATE_B64: b64(key.privateKey),
    }),
    true,
  );
}

export function bootstrapStep(templates: Templates, host: HostSettings): HostStep {
  // The bootstrap ships as a folder of files (it also runs on its own, by hand).
  const files = BOOTSTRAP_FILES.map(
    (f) =>
      `mkdir -p "$PLATFORM_STAGE/$(dirname ${q(f)})"\nprintf '%s' ${q(b64(templates.bootstrap[f]))} | base64 -d >"$PLATFORM_STAGE/"${q(f)}`,
  ).join("\n");
  const run = `${files}\nDEPLOY_USER="$DEPLOY_USER" DEPLOY_SSH_KEY="$DEPLOY_SSH_KEY" ADMIN_CIDRS="$ADMIN_CIDRS" SSH_PORT="$SSH_PORT" \\
  PLATFORM_DATA_DIR="$PLATFORM_DATA_DIR" PACKAGE_SOURCE="$PACKAGE_SOURCE" bash "$PLATFORM_STAGE/bootstrap.sh"`;
  return {
    ...step(
      "bootstrap",
      "Harden the host and install Docker, Compose and Caddy (bootstrap.sh)",
      asRoot("bootstrap"),
      hostScript(templates, run, {
        DEPLOY_USER: host.deployUser,
        DEPLOY_SSH_KEY: host.deploySshKey,
        ADMIN_CIDRS: host.adminCidrs.join(" "),
        SSH_PORT: String(host.sshPort),
        PLATFORM_DATA_DIR: PRODUCTION_PATHS.dataDir,
        PACKAGE_SOURCE: host.packageSource,
      }),
    ),
    endsSession: true,
  };
}

export function caddyStep(templates: Templates, host: HostSettings): HostStep {
  const env = renderEnvFile("host/caddy/platform.env", templates.caddyEnv, {
    ACME_EMAIL: host.acmeEmail,
    API_HOST: host.apiHost,
    CADDY_GLOBAL_OPTIONS: host.tlsIssuer === "internal" ? "local_certs" : "",
  });
  return step(
    "caddy",
    "Install the Caddyfile and its environment, then reload Caddy",
    asRoot("caddy"),
    hostScript(templates, templates.steps.caddy, {
      CADDYFILE_B64: b64(templates.caddyfile),
      PLATFORM_ENV_B64: b64(env),
      CADDY_DROPIN_B64: b64(templates.caddyDropIn),
    }),
  );
}

export function releaseStep(
  templates: Templates,
  bundle: Buffer,
  bundlePath: string,
  /** The image the bundle must parse in; "" for the one in the host's .env (what runs now). */
  apiImage: string,
  paths = PRODUCTION_PATHS,
): HostStep {
  const id = releaseId(bundle);
  return {
    ...step(
      "release",
      `Install release ${id} of the API bundle, keeping the last ${RELEASES_KEPT} for rollback`,
      asRoot("release"),
      hostScript(templates, templates.steps.release, {
        APP_DIR: paths.appDir,
        RELEASE_ID: id,
        API_IMAGE: apiImage,
        RELEASES_KEPT: String(RELEASES_KEPT),
      }),
    ),
    upload: { localPath: bundlePath, remotePath: `${paths.appDir}/releases/upload-${id}.cjs` },
  };
}

export function stackStep(
  templates: Templates,
  stack: StackSettings,
  release: string,
  paths = PRODUCTION_PATHS,
  /** Who deploys, for the host's audit log. */
  actor = "pulumi up",
  /** A line for the host's audit log once the stack runs on these settings (a rotation's). */
  audit?: { action: string; detail: string },
): HostStep {
  const nats = natsCredentials(stack.natsToken);
  const env = renderEnvFile("stack/stack.env", templates.stackEnv, {
    API_IMAGE: stack.apiImage,
    NATS_IMAGE: stack.natsImage,
    PLATFORM_DATA_DIR: paths.dataDir,
    NATS_API_USER: nats.api.user,
    NATS_API_PASSWORD: nats.api.password,
    NATS_BACKUP_USER: nats.backup.user,
    NATS_BACKUP_PASSWORD: nats.backup.password,
    NATS_OPS_USER: nats.ops.user,
    NATS_OPS_PASSWORD: nats.ops.password,
    JWT_SECRET: stack.jwtSecret,
    JWT_PREVIOUS_SECRET: stack.jwtPreviousSecret?.secret ?? "",
    JWT_PREVIOUS_SECRET_UNTIL: stack.jwtPreviousSecret?.until ?? "",
    LLM_PROVIDER: stack.llmProvider,
    ANTHROPIC_API_KEY: stack.llmProvider === "anthropic" ? stack.llmApiKey : "",
    OPENAI_API_KEY: stack.llmProvider === "openai" ? stack.llmApiKey : "",
    ...Object.fromEntries(API_SETTINGS.map((s) => [s.env, stack.apiSettings[s.env] ?? ""])),
  });
  return step(
    "stack",
    "Install the compose stack, NATS config and .env; bring NATS up, then restart the API instances one at a time",
    asRoot("stack"),
    hostScript(templates, templates.steps.stack, {
      APP_DIR: paths.appDir,
      API_IMAGE: stack.apiImage,
      NATS_IMAGE: stack.natsImage,
      RELEASE_ID: release,
      ACTOR: actor,
      COMPOSE_B64: b64(templates.compose),
      NATS_CONF_B64: b64(templates.natsConf),
      NATS_AUTH_B64: b64(
        renderNatsAuth(templates.natsAuth, [
          stack.natsToken,
          ...(stack.natsPreviousToken ? [stack.natsPreviousToken] : []),
        ]),
      ),
      STACK_ENV_B64: b64(env),
      ...(audit ? { AUDIT_ACTION: audit.action, AUDIT_DETAIL: audit.detail } : {}),
    }),
    true,
  );
}

export interface BackupStepSettings {
  /** A systemd calendar expression. */
  schedule: string;
  /** Backups kept in the bucket. */
  keep: number;
  /** The S3-compatible bucket backups are uploaded to; none keeps them on the host only. */
  bucket?: { endpoint: string; bucket: string; accessKey: string; secretKey: string };
  /** age recipients every backup is encrypted to on the host; none: not encrypted. */
  recipients?: readonly string[];
}

/**
 * The scheduled backup (templates/host/steps/backups.sh): its bundle
 * (dist/backup.cjs), the systemd timer that runs it, the bucket's settings.
 * Holds the bucket's keys, so it travels as a secret when there is a bucket.
 */
export function backupsStep(
  templates: Templates,
  settings: BackupStepSettings,
  bundle: Buffer,
  bundlePath: string,
  paths = PRODUCTION_PATHS,
): HostStep {
  const { bucket } = settings;
  const bucketEnv = bucket
    ? renderEnvFile("host/backup/bucket.env", templates.backupBucketEnv, {
        BACKUP_S3_ENDPOINT: bucket.endpoint,
        BACKUP_S3_BUCKET: bucket.bucket,
        BACKUP_S3_ACCESS_KEY: bucket.accessKey,
        BACKUP_S3_SECRET_KEY: bucket.secretKey,
        BACKUP_KEEP: String(settings.keep),
      })
    : "";
  const recipients = settings.recipients ?? [];
  const recipientsEnv = renderEnvFile("host/backup/recipients.env", templates.backupRecipientsEnv, {
    BACKUP_RECIPIENTS: recipients.join(","),
  });
  return {
    ...step(
      "backups",
      `Schedule backups (${settings.schedule})${bucket ? `, uploaded to ${bucket.bucket}` : ", kept on the host (no bucket)"}` +
        (recipients.length > 0 ? `, encrypted to ${recipients.length} age recipient(s)` : ", not encrypted"),
      asRoot("backups"),
      hostScript(templates, templates.steps.backups, {
        APP_DIR: paths.appDir,
        DATA_DIR: paths.dataDir,
        BUNDLE_SHA256: sha256(bundle),
        SCHEDULE: settings.schedule,
        SERVICE_B64: b64(templates.backupService),
        TIMER_B64: b64(templates.backupTimer),
        RUN_B64: b64(templates.backupRun),
        BUCKET_ENV_B64: bucketEnv ? b64(bucketEnv) : "",
        RECIPIENTS_ENV_B64: b64(recipientsEnv),
      }),
      // The recipients are kept secret too: whoever knows them can make a backup that decrypts.
      bucket !== undefined || recipients.length > 0,
    ),
    upload: { localPath: bundlePath, remotePath: `${paths.appDir}/upload-backup.cjs` },
  };
}

export interface MonitoringStepSettings extends MonitoringSettings {
  /** How often Prometheus reads its targets and evaluates the rules; production's by default, tests shorten them. */
  intervals?: ScrapeIntervals;
  /** Prometheus rule files by name ("host.yml"), installed in /etc/prometheus/rules/; any other there is removed. */
  rules?: Readonly<Record<string, string>>;
  /**
   * alertmanager.yml and the secrets it reads from files of their own
   * (infra/monitoring/alertmanager-config.ts); by default a placeholder that
   * delivers nothing (templates/host/monitoring/alertmanager.yml).
   */
  alertmanager?: AlertmanagerFiles;
}

/**
 * The host's monitoring (templates/host/steps/monitoring.sh): Debian's
 * Prometheus, Alertmanager, node_exporter and blackbox exporter on loopback,
 * bounded, with their configuration, the alert rules and the textfile
 * metrics' timer.
 */
export function monitoringStep(templates: Templates, host: HostSettings, settings: MonitoringStepSettings): HostStep {
  const files = templates.monitoring;
  const rules = Object.entries(settings.rules ?? {}).sort(([a], [b]) => a.localeCompare(b));
  for (const [name] of rules) {
    if (!/^[a-z0-9-]+\.yml$/.test(name))
      throw new Error(`rule file "${name}": names are lower case, digits and -, then .yml`);
  }
  // The script installs each secret by its name in the one folder Alertmanager's configuration names.
  const secrets = (settings.alertmanager?.secrets ?? []).map((file) => {
    const name = file.path.slice(ALERTMANAGER_SECRETS_DIR.length + 1);
    if (!file.path.startsWith(`${ALERTMANAGER_SECRETS_DIR}/`) || !/^[a-z0-9-]+$/.test(name))
      throw new Error(`alertmanager secret "${file.path}": not a file name in ${ALERTMANAGER_SECRETS_DIR}`);
    return `${name}:${b64(file.content)}`;
  });
  return step(
    "monitoring",
    `Run Prometheus, Alertmanager and the exporters on loopback, keeping metrics ${settings.retention} or ${settings.retentionSize}` +
      (rules.length > 0 ? `, with ${rules.length} rule file(s)` : ", with no alert rules"),
    asRoot("monitoring"),
    hostScript(templates, templates.steps.monitoring, {
      PROMETHEUS_DROPIN_B64: b64(
        renderTemplate("host/monitoring/prometheus.conf", files["prometheus.conf"], {
          RETENTION: settings.retention,
          RETENTION_SIZE: settings.retentionSize,
        }),
      ),
      ALERTMANAGER_DROPIN_B64: b64(files["alertmanager.conf"]),
      NODE_EXPORTER_DROPIN_B64: b64(files["node-exporter.conf"]),
      BLACKBOX_DROPIN_B64: b64(files["blackbox-exporter.conf"]),
      PROMETHEUS_YML_B64: b64(
        renderPrometheusConfig(files["prometheus.yml"], {
          apiHost: host.apiHost,
          tlsIssuer: host.tlsIssuer,
          intervals: settings.intervals,
        }),
      ),
      ALERTMANAGER_YML_B64: b64(settings.alertmanager?.config.content ?? files["alertmanager.yml"]),
      ALERTMANAGER_SECRET_FILES: secrets.join(" "),
      BLACKBOX_YML_B64: b64(files["blackbox.yml"]),
      METRICS_SCRIPT_B64: b64(files["textfile-metrics.sh"]),
      METRICS_SERVICE_B64: b64(files["platform-textfile-metrics.service"]),
      METRICS_TIMER_B64: b64(files["platform-textfile-metrics.timer"]),
      DASHBOARD_B64: b64(files["dashboard.html"]),
      RULE_FILES: rules.map(([name, text]) => `${name}:${b64(text)}`).join(" "),
    }),
    // Receivers' passwords and webhook URLs are in Alertmanager's configuration once one is set.
    settings.alertmanager?.holdsReceivers === true,
  );
}

/** How the verify step's output starts while Let's Encrypt cannot issue yet (templates/host/steps/verify.sh). */
export const CERTIFICATE_PENDING = "certificate pending";

/**
 * The API instances, then the API through Caddy and TLS on the host
 * (templates/host/steps/verify.sh). It checks what the steps before it did,
 * so it runs again whenever one of them does, and on every deploy while it
 * reported the certificate pending.
 */
export function verifyStep(templates: Templates, host: HostSettings): HostStep {
  return {
    ...step(
      "verify",
      `Check the API instances, then https://${host.apiHost}/health through Caddy on the host`,
      asRoot("verify"),
      hostScript(templates, templates.steps.verify, { API_HOST: host.apiHost, TLS_ISSUER: host.tlsIssuer }),
    ),
    rerunWhileOutputStarts: CERTIFICATE_PENDING,
    checksEarlierSteps: true,
  };
}

/**
 * All steps, in the order they run. The backups step is made by the caller
 * (backupsStep), which may only know the bucket's keys once a resource exists.
 */
export function hostSteps<Backups = HostStep>(
  templates: Templates,
  host: HostSettings,
  stack: StackSettings,
  bundle: Buffer,
  bundlePath: string,
  backups: Backups,
  monitoring: MonitoringStepSettings,
): Array<HostStep | Backups> {
  return [
    waitStep(templates),
    bootstrapStep(templates, host),
    caddyStep(templates, host),
    releaseStep(templates, bundle, bundlePath, stack.apiImage),
    stackStep(templates, stack, releaseId(bundle)),
    backups,
    monitoringStep(templates, host, monitoring),
    verifyStep(templates, host),
  ];
}
