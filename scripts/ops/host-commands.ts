// What each day-2 command runs on the host, as data: a command line and the
// script on its stdin (templates/host/ops/, with the shared library). The
// commands in commands/ only carry these out through a transport.
import { rootCommand } from "../../infra/host/runner/envelope.js";
import type { HostCommand } from "../../infra/host/runner/run.js";
import type { HostPaths } from "../../infra/host/steps.js";
import type { Templates } from "../../infra/host/templates.js";

/** What differs on the stack `npm run local` runs: no systemd unit for Caddy, its own ports and files. */
export interface LocalCaddy {
  apiHost: string;
  httpsPort: number;
  dataDir: string;
  accessLog: string;
}

export type Service = "api" | "nats" | "caddy";
export const SERVICES: readonly Service[] = ["api", "nats", "caddy"];

export function switchReleaseCommand(
  templates: Templates,
  paths: HostPaths,
  release: string,
  action: "deploy" | "rollback",
  actor: string,
): HostCommand {
  return rootCommand(templates, `ops-${action}`, templates.ops["switch-release"], {
    APP_DIR: paths.appDir,
    RELEASE_ID: release,
    ACTION: action,
    ACTOR: actor,
  });
}

export function releasesCommand(templates: Templates, paths: HostPaths): HostCommand {
  return rootCommand(templates, "ops-releases", templates.ops.releases, { APP_DIR: paths.appDir });
}

export function restartCommand(templates: Templates, paths: HostPaths, service: Service, actor: string): HostCommand {
  return rootCommand(templates, "ops-restart", templates.ops.restart, {
    APP_DIR: paths.appDir,
    SERVICE: service,
    ACTOR: actor,
  });
}

export function statusCommand(templates: Templates, paths: HostPaths, local?: LocalCaddy): HostCommand {
  return rootCommand(templates, "ops-status", templates.ops.status, {
    APP_DIR: paths.appDir,
    DATA_DIR: paths.dataDir,
    API_HOST: local?.apiHost ?? "",
    HTTPS_PORT: local ? String(local.httpsPort) : "",
    CADDY_DATA: local?.dataDir ?? "",
  });
}

export interface LogOptions {
  service: Service | "all";
  follow: boolean;
  /** e.g. "10m"; empty for the last `tail` lines. */
  since: string;
  tail: number;
  /** An extended regular expression, or empty. */
  grep: string;
}

export function logsCommand(
  templates: Templates,
  paths: HostPaths,
  options: LogOptions,
  local?: LocalCaddy,
): HostCommand {
  return rootCommand(templates, "ops-logs", templates.ops.logs, {
    APP_DIR: paths.appDir,
    SERVICE: options.service,
    FOLLOW: options.follow ? "yes" : "no",
    SINCE: options.since,
    TAIL: String(options.tail),
    GREP: options.grep,
    ACCESS_LOG: local?.accessLog ?? "",
  });
}

/** The API instances stopped, under the deploy lock, until the held command's input closes (templates/host/ops/restore-window.sh). */
export function restoreWindowCommand(
  templates: Templates,
  paths: HostPaths,
  action: "restore" | "purge",
  detail: string,
  actor: string,
): HostCommand {
  return rootCommand(templates, `ops-${action}`, templates.ops["restore-window"], {
    APP_DIR: paths.appDir,
    ACTION: action,
    DETAIL: detail,
    ACTOR: actor,
  });
}

/**
 * The ops commands' NATS login, from the host's .env (root's to read): the
 * ops user and password, or the token of a stack deployed before NATS had
 * users. Printed to the SSH channel, never to the terminal.
 */
export function natsLoginCommand(templates: Templates, paths: HostPaths): HostCommand {
  return rootCommand(
    templates,
    "ops-nats-credentials",
    `grep -E '^(NATS_OPS_USER|NATS_OPS_PASSWORD|NATS_TOKEN)=' "$APP_DIR/.env" || true`,
    {
      APP_DIR: paths.appDir,
    },
  );
}

/** Where the last backup is recorded on the host, for status (templates/host/ops/record-backup.sh). */
export function recordBackupCommand(templates: Templates, paths: HostPaths, line: string): HostCommand {
  return rootCommand(templates, "ops-record-backup", templates.ops["record-backup"], {
    DATA_DIR: paths.dataDir,
    LAST_BACKUP: line,
  });
}

/** NATS's client connections with their users (/connz, read inside the NATS container). */
export function natsConnectionsCommand(templates: Templates, paths: HostPaths): HostCommand {
  return rootCommand(
    templates,
    "ops-nats-connections",
    `. "$PLATFORM_STAGE/lib.sh"\nnats_monitor 'connz?auth=true&limit=4096'`,
    {
      APP_DIR: paths.appDir,
    },
  );
}

/** The release the last deploy of the stack shipped (a rotation's stack step keeps the one in service). */
export function shippedReleaseCommand(templates: Templates, paths: HostPaths): HostCommand {
  return rootCommand(templates, "ops-shipped-release", `cat "$APP_DIR/pulumi-release"`, { APP_DIR: paths.appDir });
}

/** One line in the host's audit log (templates/host/lib.sh, audit), for what happens off the host (a revocation). */
export function auditCommand(
  templates: Templates,
  paths: HostPaths,
  actor: string,
  action: string,
  detail: string,
): HostCommand {
  return rootCommand(templates, "ops-audit", `. "$PLATFORM_STAGE/lib.sh"\naudit "$ACTION" "$DETAIL"`, {
    APP_DIR: paths.appDir,
    ACTOR: actor,
    ACTION: action,
    DETAIL: detail.replace(/[\r\n\t]/g, " "),
  });
}
