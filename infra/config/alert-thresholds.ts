// The alert rules' thresholds (stack setting alertThresholds): one object,
// each key optional, checked here so a typo or a nonsense value stops the
// preview instead of shipping a rule that never (or always) fires.
import { StackConfigError } from "./errors.js";
import type { RawConfig } from "./stack-config.js";

export interface AlertThresholds {
  /** Used space of a file system, in %, that warns (HostDiskFilling, warning). */
  diskWarningPercent: number;
  /** Used space, in %, that pages (HostDiskFilling, critical). */
  diskCriticalPercent: number;
  /** Available memory, in %, below which the host is under memory pressure. */
  memoryAvailablePercent: number;
  /** A chat store stream's use of its limit, in %, that warns. */
  storeWarningPercent: number;
  /** ... and that pages (the API says degraded from 90 %). */
  storeCriticalPercent: number;
  /** 5xx responses through Caddy, in % of all responses. */
  http5xxPercent: number;
  /** Failed model calls, in % of the calls to a provider. */
  upstreamErrorPercent: number;
  /** Median time to first token of a provider, in seconds. */
  upstreamLatencySeconds: number;
  /** p99 time to first token, in seconds. */
  ttftP99Seconds: number;
  /** Days before the certificate's expiry that alert. */
  certificateDays: number;
  /** The newest backup may be this many periods of the schedule old. */
  backupAgeFactor: number;
  /** More addresses banned by fail2ban than an hour before. */
  fail2banSurge: number;
  /** Restarts of one API instance within 15 minutes. */
  apiRestarts: number;
}

interface Bound {
  default: number;
  min: number;
  max: number;
  /** Whole numbers only (counts, days). */
  integer?: boolean;
  /** What the number is, for the error message. */
  unit: string;
}

/** Each key, its default and the range that makes sense; in this order in docs/configuration.md. */
export const ALERT_THRESHOLD_BOUNDS: Readonly<Record<keyof AlertThresholds, Bound>> = {
  diskWarningPercent: { default: 80, min: 1, max: 99, unit: "a percentage" },
  diskCriticalPercent: { default: 90, min: 1, max: 99, unit: "a percentage" },
  memoryAvailablePercent: { default: 10, min: 1, max: 50, unit: "a percentage" },
  storeWarningPercent: { default: 80, min: 1, max: 99, unit: "a percentage" },
  storeCriticalPercent: { default: 90, min: 1, max: 99, unit: "a percentage" },
  http5xxPercent: { default: 5, min: 0.1, max: 100, unit: "a percentage" },
  upstreamErrorPercent: { default: 10, min: 0.1, max: 100, unit: "a percentage" },
  upstreamLatencySeconds: { default: 5, min: 0.1, max: 600, unit: "seconds" },
  ttftP99Seconds: { default: 10, min: 0.1, max: 600, unit: "seconds" },
  certificateDays: { default: 14, min: 1, max: 60, integer: true, unit: "days" },
  backupAgeFactor: { default: 2, min: 1.5, max: 30, unit: "periods of backupSchedule" },
  fail2banSurge: { default: 20, min: 1, max: 100_000, integer: true, unit: "banned addresses" },
  apiRestarts: { default: 3, min: 2, max: 100, integer: true, unit: "restarts" },
};

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = Object.fromEntries(
  Object.entries(ALERT_THRESHOLD_BOUNDS).map(([key, bound]) => [key, bound.default]),
) as unknown as AlertThresholds;

const KEY = "alertThresholds";
const EXAMPLE = `pulumi config set --path '${KEY}.diskWarningPercent' 85`;

/**
 * The thresholds, the defaults for keys left out. Pulumi stores the object
 * as JSON; `config set --path` may store a number as a string, so "85" is
 * read as 85.
 */
export function parseAlertThresholds(raw: RawConfig): AlertThresholds {
  const text = raw.values[KEY]?.trim() ?? "";
  if (text === "") return { ...DEFAULT_ALERT_THRESHOLDS };
  let given: unknown;
  try {
    given = JSON.parse(text);
  } catch {
    throw new StackConfigError(KEY, "is not an object", `Set one threshold at a time: ${EXAMPLE}`);
  }
  if (given === null || typeof given !== "object" || Array.isArray(given))
    throw new StackConfigError(KEY, "is not an object", `Set one threshold at a time: ${EXAMPLE}`);

  const thresholds = { ...DEFAULT_ALERT_THRESHOLDS };
  const known = Object.keys(ALERT_THRESHOLD_BOUNDS);
  for (const [key, value] of Object.entries(given)) {
    if (!known.includes(key))
      throw new StackConfigError(
        `${KEY}.${key}`,
        "is not a threshold this stack knows",
        `Remove it (pulumi config rm --path '${KEY}.${key}'); the thresholds are ${known.join(", ")}`,
      );
    const name = key as keyof AlertThresholds;
    thresholds[name] = checked(name, value, ALERT_THRESHOLD_BOUNDS[name]);
  }
  for (const [lower, higher] of [
    ["diskWarningPercent", "diskCriticalPercent"],
    ["storeWarningPercent", "storeCriticalPercent"],
  ] as const) {
    if (thresholds[lower] >= thresholds[higher])
      throw new StackConfigError(
        `${KEY}.${lower}`,
        `is ${thresholds[lower]}, not below ${higher} (${thresholds[higher]}): the warning would come with or after the page`,
        `Lower it, or raise ${higher}: pulumi config set --path '${KEY}.${lower}' ${thresholds[higher] - 10}`,
      );
  }
  return thresholds;
}

function checked(key: keyof AlertThresholds, value: unknown, bound: Bound): number {
  const path = `${KEY}.${key}`;
  const fix = `Use ${bound.integer ? "a whole number" : "a number"} from ${bound.min} to ${bound.max} (${bound.unit}), e.g.: pulumi config set --path '${path}' ${bound.default}`;
  const number =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value)
        ? Number(value)
        : undefined;
  if (number === undefined || !Number.isFinite(number))
    throw new StackConfigError(path, `is ${JSON.stringify(value)}, not a number`, fix);
  if (bound.integer && !Number.isInteger(number))
    throw new StackConfigError(path, `is ${number}, not a whole number`, fix);
  if (number < bound.min || number > bound.max)
    throw new StackConfigError(path, `is ${number}, outside ${bound.min} to ${bound.max}`, fix);
  return number;
}
