// alertmanager.yml from the stack's receivers, as data: who gets which alert,
// how alerts are grouped and repeated, and which secrets go in files of their
// own. Pure: the host step only writes what this returns.
import ms from "ms";
import { stringify } from "yaml";
import type { AlertReceivers } from "../config/alert-receivers.js";

/** Where Debian's prometheus-alertmanager reads its configuration. */
export const ALERTMANAGER_CONFIG_PATH = "/etc/prometheus/alertmanager.yml";
/** Secrets Alertmanager 0.25 can read from a file of their own (smtp password, Slack URL). */
export const ALERTMANAGER_SECRETS_DIR = "/etc/prometheus/alertmanager-secrets";

/**
 * How long Alertmanager waits and repeats. Durations in Alertmanager's
 * format ("30s", "5m", "4h"); tests shorten them.
 */
export interface AlertTimings {
  /** A new group's first notice waits this long for its siblings. */
  groupWait: string;
  /** A group that changes (a new alert, a resolve) is told again after this. */
  groupInterval: string;
  /** A group still firing, unchanged, is told again after this. */
  repeatInterval: string;
  /** The heartbeat's ping period: what the outside check's period must be. */
  heartbeatInterval: string;
}

export const PRODUCTION_TIMINGS: AlertTimings = {
  groupWait: "30s",
  groupInterval: "5m",
  repeatInterval: "4h",
  heartbeatInterval: "5m",
};

/** A file the host step installs: owned by the user Alertmanager runs as, mode 0600 (it may hold a token). */
export interface SecretFile {
  path: string;
  content: string;
  mode: 0o600;
}

export interface AlertmanagerFiles {
  /** alertmanager.yml. Mode 0600 too: Alertmanager 0.25 has no *_file field for a webhook URL. */
  config: SecretFile;
  /** The SMTP password and Slack URL, which the config names by path. */
  secrets: SecretFile[];
  /** Whether any receiver is set: its addresses and URLs are then in these files, which must stay secret. */
  holdsReceivers: boolean;
}

export interface RenderOptions {
  timings?: AlertTimings;
  configPath?: string;
  secretsDir?: string;
}

/** The receiver names, as they show in `ops alerts` and Alertmanager's API. */
export const RECEIVERS = { team: "team", heartbeat: "heartbeat", nobody: "nobody" } as const;

export function renderAlertmanagerConfig(receivers: AlertReceivers, options: RenderOptions = {}): AlertmanagerFiles {
  const timings = options.timings ?? PRODUCTION_TIMINGS;
  for (const [name, value] of Object.entries(timings))
    if (!/^[1-9][0-9]*(ms|s|m|h)$|^0s$/.test(value))
      throw new Error(`alert timing ${name}: "${value}" is not a duration`);
  const dir = options.secretsDir ?? ALERTMANAGER_SECRETS_DIR;
  const secrets: SecretFile[] = [];
  const inFile = (name: string, content: string) => {
    const path = `${dir}/${name}`;
    // No newline after: Alertmanager takes a password file's bytes as they are.
    secrets.push({ path, content, mode: 0o600 });
    return path;
  };

  const team = teamIntegrations(receivers, inFile);
  const hasTeam = Object.keys(team).length > 0;
  const config = {
    route: {
      // Nowhere to send: the alerts still fire, and ops alerts lists them.
      receiver: hasTeam ? RECEIVERS.team : RECEIVERS.nobody,
      // One notice per kind of trouble and level, however many instances have it.
      group_by: ["alertname", "severity"],
      group_wait: timings.groupWait,
      group_interval: timings.groupInterval,
      repeat_interval: timings.repeatInterval,
      routes: [
        {
          // The heartbeat only pings the outside check, never the team; with
          // no heartbeat URL it goes nowhere rather than to the team.
          matchers: ['severity="heartbeat"'],
          receiver: receivers.heartbeatUrl ? RECEIVERS.heartbeat : RECEIVERS.nobody,
          group_by: ["alertname"],
          group_wait: "0s",
          // The repeat is only sent at a group's flush: flushing often keeps
          // the ping's period close to heartbeatInterval (equal, it comes
          // every second interval). Flushing an unchanged group sends nothing.
          group_interval: tenthOf(timings.heartbeatInterval),
          repeat_interval: timings.heartbeatInterval,
        },
      ],
    },
    inhibit_rules: [
      {
        // A warning says less than the critical of the same alert: hold it back meanwhile.
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ["alertname", "instance"],
      },
    ],
    receivers: [
      ...(hasTeam ? [{ name: RECEIVERS.team, ...team }] : []),
      ...(receivers.heartbeatUrl
        ? [
            {
              name: RECEIVERS.heartbeat,
              // A resolved Watchdog means the pipeline broke: it must not count as a ping.
              webhook_configs: [{ url: receivers.heartbeatUrl, send_resolved: false }],
            },
          ]
        : []),
      { name: RECEIVERS.nobody },
    ],
  };
  const header = [
    "# Managed by the platform's Pulumi program (infra/monitoring/alertmanager-config.ts): do not edit on the host.",
    "# Receivers come from the stack's alert* settings (docs/alert-delivery.md); secrets Alertmanager",
    `# can read from a file are in ${dir}/ (mode 0600).`,
    "",
  ].join("\n");
  return {
    config: {
      path: options.configPath ?? ALERTMANAGER_CONFIG_PATH,
      content: header + stringify(config, { lineWidth: 0 }),
      mode: 0o600,
    },
    secrets,
    holdsReceivers: Boolean(receivers.email || receivers.webhook || receivers.heartbeatUrl),
  };
}

/** A tenth of an Alertmanager duration, in whole seconds, at least 1s. */
function tenthOf(duration: string): string {
  return `${Math.max(1, Math.floor(ms(duration as ms.StringValue) / 10_000))}s`;
}

function teamIntegrations(receivers: AlertReceivers, inFile: (name: string, content: string) => string) {
  const integrations: Record<string, unknown[]> = {};
  const { email, webhook } = receivers;
  if (email)
    integrations.email_configs = [
      {
        to: email.to.join(", "),
        from: email.from,
        smarthost: email.smarthost,
        ...(email.username !== undefined ? { auth_username: email.username } : {}),
        ...(email.password !== undefined ? { auth_password_file: inFile("smtp-password", email.password) } : {}),
        require_tls: email.requireTls,
        // E-mail's default is false: a resolve notice is half of what the operator needs.
        send_resolved: true,
      },
    ];
  if (webhook?.format === "slack")
    integrations.slack_configs = [
      {
        api_url_file: inFile("slack-webhook-url", webhook.url),
        send_resolved: true,
        title: "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})",
        text: SUMMARY_LINES,
      },
    ];
  if (webhook?.format === "discord")
    integrations.discord_configs = [
      {
        webhook_url: webhook.url,
        send_resolved: true,
        title: "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})",
        message: SUMMARY_LINES,
      },
    ];
  if (webhook?.format === "alertmanager") integrations.webhook_configs = [{ url: webhook.url, send_resolved: true }];
  return integrations;
}

/** One line an alert in chat: its summary and where its runbook is. */
const SUMMARY_LINES =
  "{{ range .Alerts }}{{ .Annotations.summary }}{{ if .Annotations.runbook }} (runbook: {{ .Annotations.runbook }}){{ end }}\n{{ end }}";
