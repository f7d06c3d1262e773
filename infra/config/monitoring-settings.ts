// How much history the host's Prometheus keeps: an age and a size, whichever
// is reached first (stack config monitoringRetention, monitoringRetentionSize).
// Checked here, in Prometheus's own units, so a typo stops `pulumi preview`
// instead of leaving Prometheus unable to start on the host.
import { StackConfigError } from "./errors.js";
import type { RawConfig } from "./stack-config.js";

export interface MonitoringSettings {
  /** Samples older than this are dropped, e.g. "15d" (Prometheus's --storage.tsdb.retention.time). */
  retention: string;
  /** The metrics store never grows past this, e.g. "1GB" (--storage.tsdb.retention.size). */
  retentionSize: string;
}

/** Two weeks covers a weekly pattern and a holiday; the size keeps a small VPS's disk for the chat store. */
export const MONITORING_DEFAULTS: MonitoringSettings = { retention: "15d", retentionSize: "1GB" };

// Prometheus's duration units (model.ParseDuration) and size units (base 2).
const AGE = /^([1-9][0-9]{0,5})(ms|s|m|h|d|w|y)$/;
const SIZE = /^([1-9][0-9]{0,5})(B|KB|MB|GB|TB)$/;
const SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
const BYTES: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Less than this and the alert rules (which look back up to a day) would have nothing to look at. */
const MIN_AGE_SECONDS = 86_400;
/** Prometheus's write-ahead log alone takes about this much: a smaller limit would delete every block. */
const MIN_SIZE_BYTES = 64 * 2 ** 20;

export function parseMonitoringSettings(raw: RawConfig): MonitoringSettings {
  const value = (key: string, fallback: string) => {
    const text = raw.values[key]?.trim();
    return text === undefined || text === "" ? fallback : text;
  };
  const retention = value("monitoringRetention", MONITORING_DEFAULTS.retention);
  const age = AGE.exec(retention);
  if (!age)
    throw new StackConfigError(
      "monitoringRetention",
      `"${retention}" is not an age Prometheus reads (a whole number and one of ms, s, m, h, d, w, y)`,
      "Use e.g.: pulumi config set monitoringRetention 15d",
    );
  if (Number(age[1]) * SECONDS[age[2]!]! < MIN_AGE_SECONDS)
    throw new StackConfigError(
      "monitoringRetention",
      `"${retention}" is less than a day: the alert rules look back up to a day`,
      "Use e.g.: pulumi config set monitoringRetention 15d",
    );
  const retentionSize = value("monitoringRetentionSize", MONITORING_DEFAULTS.retentionSize);
  const size = SIZE.exec(retentionSize);
  if (!size)
    throw new StackConfigError(
      "monitoringRetentionSize",
      `"${retentionSize}" is not a size Prometheus reads (a whole number and one of B, KB, MB, GB, TB)`,
      "Use e.g.: pulumi config set monitoringRetentionSize 1GB",
    );
  if (Number(size[1]) * BYTES[size[2]!]! < MIN_SIZE_BYTES)
    throw new StackConfigError(
      "monitoringRetentionSize",
      `"${retentionSize}" is less than 64MB, which Prometheus's write-ahead log alone takes`,
      "Use e.g.: pulumi config set monitoringRetentionSize 1GB",
    );
  return { retention, retentionSize };
}
