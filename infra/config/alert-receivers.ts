// Where the host's alerts go: e-mail over SMTP, a chat webhook, and the
// heartbeat URL an outside check watches (the dead man's switch). Checked
// here, so a typo fails at preview instead of in the middle of an outage.
import { isIP } from "node:net";
import { StackConfigError } from "./errors.js";
import { secret } from "./secrets.js";
import type { RawConfig } from "./stack-config.js";

/** The stack keys of this file, spread into stack-config.ts's STACK_KEYS. */
export const ALERT_RECEIVER_KEYS = {
  alertEmailTo: { type: "string", default: "" },
  alertEmailFrom: { type: "string", default: "" },
  alertSmtpHost: { type: "string", default: "" },
  alertSmtpUser: { type: "string", default: "" },
  // Optional secrets: Pulumi refuses a default for a key declared secret, so
  // the parser checks they are stored encrypted.
  alertSmtpPassword: { type: "string", default: "" },
  alertSmtpRequireTls: { type: "boolean", default: true },
  alertWebhookUrl: { type: "string", default: "" },
  alertWebhookFormat: { type: "string", default: "auto" },
  alertHeartbeatUrl: { type: "string", default: "" },
} as const;

/**
 * What the webhook receives. "alertmanager": Alertmanager's own JSON (a
 * receiver of your own, ntfy); "slack": Slack's incoming-webhook message
 * (Slack, Mattermost); "discord": Discord's.
 */
export type WebhookFormat = "alertmanager" | "slack" | "discord";
const FORMATS = ["auto", "alertmanager", "slack", "discord"] as const;

export interface EmailReceiver {
  /** One address or several. */
  to: string[];
  from: string;
  /** The SMTP server, host:port (587 with STARTTLS, 465 with TLS from the first byte). */
  smarthost: string;
  username?: string;
  /** Plaintext here; on the host only in a file of mode 0600 (alertmanager-config.ts). */
  password?: string;
  /** Refuse to send when the server does not offer STARTTLS (465 is TLS anyway). */
  requireTls: boolean;
}

export interface AlertReceivers {
  email?: EmailReceiver;
  /** The URL usually holds a token: plaintext here, never on a command line. */
  webhook?: { url: string; format: WebhookFormat };
  /** Pinged by the always-firing Watchdog alert, and by nothing else. */
  heartbeatUrl?: string;
}

const EMAIL = /^[^\s@,<>"]+@[^\s@,<>"]+\.[a-z]{2,}$/i;
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function parseAlertReceivers(raw: RawConfig): AlertReceivers {
  const value = (key: keyof typeof ALERT_RECEIVER_KEYS) => raw.values[key]?.trim() ?? "";
  return {
    email: parseEmail(raw, value),
    webhook: parseWebhook(raw, value("alertWebhookFormat") || "auto"),
    heartbeatUrl: optionalUrl(raw, "alertHeartbeatUrl", "https://hc-ping.com/<your check's uuid>"),
  };
}

/**
 * Said at every preview and up. Without a team receiver the alerts still
 * fire and show in `ops alerts`, but nobody is told; without a heartbeat,
 * the VPS dying (and its alerting with it) goes unnoticed.
 */
export function alertReceiverWarnings(receivers: AlertReceivers): string[] {
  const warnings: string[] = [];
  if (!receivers.email && !receivers.webhook)
    warnings.push(
      "No alert receiver is set (alertEmailTo, alertWebhookUrl): alerts fire on the host and show in " +
        "npm run ops -- alerts, but nobody is told. See docs/alert-delivery.md",
    );
  if (!receivers.heartbeatUrl)
    warnings.push(
      "alertHeartbeatUrl is not set: if the whole server goes down, its own alerting goes with it and nobody is " +
        "told. Point it at an outside check (healthchecks.io style). See docs/alert-delivery.md",
    );
  return warnings;
}

function parseEmail(
  raw: RawConfig,
  value: (key: keyof typeof ALERT_RECEIVER_KEYS) => string,
): EmailReceiver | undefined {
  const to = value("alertEmailTo");
  const rest = (["alertEmailFrom", "alertSmtpHost", "alertSmtpUser", "alertSmtpPassword"] as const).filter(
    (key) => value(key) !== "",
  );
  if (to === "") {
    if (rest.length > 0)
      throw new StackConfigError(
        rest[0]!,
        "is set, but alertEmailTo (who gets the alerts) is not",
        "Set it: pulumi config set alertEmailTo ops@example.com, or remove the alertEmail*/alertSmtp* settings",
      );
    return undefined;
  }
  const addresses = to.split(",").map((address) => address.trim());
  const bad = addresses.find((address) => !EMAIL.test(address));
  if (bad !== undefined)
    throw new StackConfigError(
      "alertEmailTo",
      `"${bad}" is not an e-mail address`,
      "Use e.g.: pulumi config set alertEmailTo ops@example.com (comma-separate several)",
    );
  const from = value("alertEmailFrom");
  if (from === "")
    throw new StackConfigError(
      "alertEmailFrom",
      "is not set, but alertEmailTo is",
      "Set the sender your SMTP server accepts: pulumi config set alertEmailFrom alerts@example.com",
    );
  if (!EMAIL.test(from))
    throw new StackConfigError(
      "alertEmailFrom",
      `"${from}" is not an e-mail address`,
      "Use e.g.: pulumi config set alertEmailFrom alerts@example.com",
    );
  const smarthost = value("alertSmtpHost");
  const hostFix = "Use host:port, e.g.: pulumi config set alertSmtpHost smtp.example.com:587";
  if (smarthost === "") throw new StackConfigError("alertSmtpHost", "is not set, but alertEmailTo is", hostFix);
  const split = /^(\[[0-9a-f:.]+\]|[^:\s]+):([0-9]{1,5})$/i.exec(smarthost);
  const host = split?.[1]?.replace(/^\[(.*)\]$/, "$1") ?? "";
  const port = Number(split?.[2]);
  if (!split || !(HOST.test(host) || isIP(host)) || port < 1 || port > 65535)
    throw new StackConfigError("alertSmtpHost", `"${smarthost}" is not host:port`, hostFix);
  const username = value("alertSmtpUser") || undefined;
  const hasPassword = (raw.values.alertSmtpPassword ?? "") !== "";
  if (username !== undefined && !hasPassword)
    throw new StackConfigError(
      "alertSmtpPassword",
      "is not set, but alertSmtpUser is",
      "Set it: pulumi config set --secret alertSmtpPassword <the SMTP password>, or remove alertSmtpUser",
    );
  if (username === undefined && hasPassword)
    throw new StackConfigError(
      "alertSmtpUser",
      "is not set, but alertSmtpPassword is",
      "Set the login: pulumi config set alertSmtpUser <name>, or remove alertSmtpPassword",
    );
  const password = hasPassword
    ? secret(raw, "alertSmtpPassword", 1, "pulumi config set --secret alertSmtpPassword <the SMTP password>")
    : undefined;
  const tls = raw.values.alertSmtpRequireTls?.trim() || "true";
  if (tls !== "true" && tls !== "false")
    throw new StackConfigError(
      "alertSmtpRequireTls",
      `is "${tls}", not a boolean`,
      "Use: pulumi config set alertSmtpRequireTls true (or false)",
    );
  const requireTls = tls === "true";
  // Port 465 is TLS from the first byte, whatever requireTls says.
  if (!requireTls && password !== undefined && port !== 465 && !isLoopback(host))
    throw new StackConfigError(
      "alertSmtpRequireTls",
      `is false, so the SMTP password could cross the network to ${host} in clear`,
      "Remove it (TLS required is the default), or use an SMTP server on this host",
    );
  return { to: addresses, from, smarthost, username, password, requireTls };
}

function parseWebhook(raw: RawConfig, format: string): AlertReceivers["webhook"] {
  if (!(FORMATS as readonly string[]).includes(format))
    throw new StackConfigError(
      "alertWebhookFormat",
      `is "${format}"`,
      `Use one of: ${FORMATS.join(", ")} (auto: slack or discord from the URL, else alertmanager)`,
    );
  const url = optionalUrl(raw, "alertWebhookUrl", "https://hooks.slack.com/services/T000/B000/XXXX");
  if (url === undefined) {
    if (format !== "auto")
      throw new StackConfigError(
        "alertWebhookFormat",
        `is "${format}", but alertWebhookUrl is not set`,
        "Set the URL: pulumi config set --secret alertWebhookUrl <URL>, or pulumi config rm alertWebhookFormat",
      );
    return undefined;
  }
  return { url, format: format === "auto" ? formatOf(new URL(url)) : (format as WebhookFormat) };
}

/** The format a well-known chat service's incoming-webhook URL needs; anything else gets Alertmanager's JSON. */
export function formatOf(url: URL): WebhookFormat {
  if (url.hostname === "hooks.slack.com") return "slack";
  if (/^(discord|discordapp)\.com$/.test(url.hostname) && url.pathname.startsWith("/api/webhooks/")) return "discord";
  return "alertmanager";
}

/**
 * A URL that usually carries a token: stored encrypted, https (plain http
 * only to this host itself, where nothing crosses a network).
 */
function optionalUrl(raw: RawConfig, key: "alertWebhookUrl" | "alertHeartbeatUrl", example: string) {
  if ((raw.values[key] ?? "").trim() === "") return undefined;
  const fix = `pulumi config set --secret ${key} ${example}`;
  const text = secret(raw, key, 1, fix).trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not echoed: the value is a secret.
    throw new StackConfigError(key, "is not a URL", `Set the whole URL, with https://: ${fix}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new StackConfigError(key, `is a ${url.protocol} URL, not https`, `Use the https:// URL: ${fix}`);
  if (url.protocol === "http:" && !isLoopback(url.hostname.replace(/^\[(.*)\]$/, "$1")))
    throw new StackConfigError(
      key,
      `is a plain http:// URL to ${url.hostname}, which would send its token across the network in clear`,
      `Use the https:// URL: ${fix}`,
    );
  return text;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}
