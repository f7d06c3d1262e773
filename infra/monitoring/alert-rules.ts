// The alert rules Prometheus loads: templates/host/monitoring/rules/*.yml with
// the stack's thresholds filled in. The files keep {{UPPER_CASE}}
// placeholders, not default numbers, so a threshold can never be left at its
// default by a renderer that missed it: the strict renderer refuses a file
// with a placeholder it has no value for. Prometheus's own templating in the
// annotations ({{ $value }}, {{ $labels.x }}) is lower case with a $ and is
// left alone.
import type { AlertThresholds } from "../config/alert-thresholds.js";
import { renderTemplate } from "../host/render.js";

/** The rule files, under templates/host/monitoring/rules/, one group each. */
export const ALERT_RULE_FILES = ["host.yml", "platform.yml", "traffic.yml", "upkeep.yml", "heartbeat.yml"] as const;
export type AlertRuleFile = (typeof ALERT_RULE_FILES)[number];

/** The placeholder each threshold fills. */
export const THRESHOLD_PLACEHOLDERS: Readonly<Record<keyof AlertThresholds, string>> = {
  diskWarningPercent: "DISK_WARNING_PERCENT",
  diskCriticalPercent: "DISK_CRITICAL_PERCENT",
  memoryAvailablePercent: "MEMORY_AVAILABLE_PERCENT",
  storeWarningPercent: "STORE_WARNING_PERCENT",
  storeCriticalPercent: "STORE_CRITICAL_PERCENT",
  http5xxPercent: "HTTP_5XX_PERCENT",
  upstreamErrorPercent: "UPSTREAM_ERROR_PERCENT",
  upstreamLatencySeconds: "UPSTREAM_LATENCY_SECONDS",
  ttftP99Seconds: "TTFT_P99_SECONDS",
  certificateDays: "CERTIFICATE_DAYS",
  backupAgeFactor: "BACKUP_AGE_FACTOR",
  fail2banSurge: "FAIL2BAN_SURGE",
  apiRestarts: "API_RESTARTS",
};

/** The placeholders' values: plain decimals PromQL and a reader both take (0.5, never 5e-1). */
export function thresholdValues(thresholds: AlertThresholds): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, placeholder] of Object.entries(THRESHOLD_PLACEHOLDERS)) {
    const value = thresholds[key as keyof AlertThresholds];
    values[placeholder] = Number.isInteger(value) ? String(value) : value.toFixed(6).replace(/0+$/, "");
  }
  return values;
}

/**
 * Each rule file's text with the thresholds in it, by file name. `templates`
 * holds the files as read from templates/host/monitoring/rules/.
 */
export function renderAlertRules(
  templates: Readonly<Record<AlertRuleFile, string>>,
  thresholds: AlertThresholds,
): Record<AlertRuleFile, string> {
  const values = thresholdValues(thresholds);
  return Object.fromEntries(
    ALERT_RULE_FILES.map((file) => [file, renderTemplate(`monitoring/rules/${file}`, templates[file], values)]),
  ) as Record<AlertRuleFile, string>;
}
