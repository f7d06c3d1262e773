// The decisions of `ops alerts`, `ops silence` and the alerts line of `ops
// status`, as data: Alertmanager's API answer read, a table for a person, a
// silence's body. No network here (alertmanager-client.ts carries them).
import ms from "ms";
import { OpsError } from "./ops-error.js";

/** An alert as Alertmanager's v2 API lists it, the fields we read. */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  status: { state: "active" | "suppressed" | "unprocessed"; silencedBy: string[]; inhibitedBy: string[] };
}

export interface FiringAlert {
  name: string;
  severity: string;
  /** ISO time it started firing. */
  since: string;
  summary: string;
  runbook: string;
  /** "active", or why nobody is told: "silenced" or "inhibited" (by a critical of the same alert). */
  state: "active" | "silenced" | "inhibited";
  /** Other labels that tell two of the same alert apart (instance, job, ...). */
  labels: Record<string, string>;
}

/** GET /api/v2/alerts's answer, refused when it is not what that API returns. */
export function parseAlerts(body: unknown): FiringAlert[] {
  if (!Array.isArray(body)) throw new OpsError("Alertmanager answered /api/v2/alerts with something other than a list");
  return (body as AlertmanagerAlert[])
    .map((alert) => {
      const { alertname = "", severity = "", ...labels } = alert.labels ?? {};
      const status = alert.status ?? { state: "active", silencedBy: [], inhibitedBy: [] };
      return {
        name: alertname,
        severity,
        since: alert.startsAt ?? "",
        summary: alert.annotations?.summary ?? "",
        runbook: alert.annotations?.runbook ?? "",
        state:
          (status.silencedBy ?? []).length > 0
            ? ("silenced" as const)
            : (status.inhibitedBy ?? []).length > 0
              ? ("inhibited" as const)
              : ("active" as const),
        labels,
      };
    })
    .sort(
      (a, b) => rank(a.severity) - rank(b.severity) || a.since.localeCompare(b.since) || a.name.localeCompare(b.name),
    );
}

const rank = (severity: string) => ({ critical: 0, warning: 1 })[severity] ?? (severity === "heartbeat" ? 3 : 2);

/** The heartbeat is always firing by design: shown apart, never counted as trouble. */
const isHeartbeat = (alert: FiringAlert) => alert.severity === "heartbeat";

/** How long ago, for a person: "3h 12m ago", "45s ago". */
export function ago(since: string, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));
  if (Number.isNaN(seconds)) return "?";
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m ago`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h ago`;
}

/** `ops alerts`: one line an alert, most severe first, each with its runbook. */
export function formatAlerts(alerts: FiringAlert[], now: Date): string {
  const trouble = alerts.filter((a) => !isHeartbeat(a));
  const heartbeat = alerts.some(isHeartbeat);
  const lines: string[] = [];
  if (trouble.length === 0) lines.push("No alerts firing.");
  else {
    const rows = trouble.map((a) => [
      a.severity || "-",
      `${a.since.slice(0, 16).replace("T", " ")} UTC (${ago(a.since, now)})`,
      `${a.name}${a.state === "active" ? "" : ` [${a.state}]`}`,
      a.summary || "-",
    ]);
    const widths = [0, 1, 2].map((i) =>
      Math.max(...rows.map((r) => r[i]!.length), ["SEVERITY", "SINCE", "ALERT"][i]!.length),
    );
    const line = (cells: string[]) =>
      cells
        .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell))
        .join("  ")
        .trimEnd();
    lines.push(line(["SEVERITY", "SINCE", "ALERT", "SUMMARY"]));
    trouble.forEach((a, i) => {
      lines.push(line(rows[i]!));
      const where = Object.entries(a.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      lines.push(`  runbook: ${a.runbook || "none given"}${where ? `   (${where})` : ""}`);
    });
  }
  lines.push(
    heartbeat
      ? "Heartbeat (Watchdog) firing: the outside check is pinged."
      : "Heartbeat (Watchdog) NOT firing: Prometheus is not evaluating rules, and the outside check will raise the alarm.",
  );
  return lines.join("\n");
}

export interface FiringSummary {
  /** Firing and not silenced or inhibited: what the team is told about. */
  active: string[];
  /** Firing, but silenced or held back by a critical. */
  quiet: string[];
  heartbeat: boolean;
}

/** `ops status`'s alerts line, as data: the names, each once. */
export function firingSummary(alerts: FiringAlert[]): FiringSummary {
  const names = (list: FiringAlert[]) => [...new Set(list.map((a) => a.name))];
  const trouble = alerts.filter((a) => !isHeartbeat(a));
  return {
    active: names(trouble.filter((a) => a.state === "active")),
    quiet: names(trouble.filter((a) => a.state !== "active")),
    heartbeat: alerts.some(isHeartbeat),
  };
}

/** The line in `ops status`; null: Alertmanager did not answer. */
export function formatFiring(summary: FiringSummary | null): string {
  if (!summary) return "  alerts     Alertmanager not answering on the host (127.0.0.1:9093)";
  const { active, quiet, heartbeat } = summary;
  const parts = [
    active.length === 0 ? "none firing" : `${active.length} FIRING: ${active.join(", ")}`,
    ...(quiet.length ? [`${quiet.length} silenced or inhibited: ${quiet.join(", ")}`] : []),
    heartbeat ? "heartbeat on" : "heartbeat OFF",
  ];
  return `  alerts     ${parts.join("; ")}${active.length ? " (npm run ops -- alerts)" : ""}`;
}

/** The longest silence: a forgotten one would hide a real outage for good. */
export const MAX_SILENCE_MS = ms("30d");

export interface SilenceRequest {
  alertname: string;
  durationMs: number;
  comment: string;
}

/** `silence ALERTNAME --for 2h [--comment text]`, checked. */
export function parseSilence(
  args: string[],
  duration: string | undefined,
  comment: string | undefined,
): SilenceRequest {
  const [alertname, ...extra] = args;
  if (!alertname)
    throw new OpsError(
      "silence which alert? npm run ops -- silence ALERTNAME --for 2h (npm run ops -- alerts lists them)",
    );
  if (extra.length > 0)
    throw new OpsError(`silence takes one alert name, not "${args.join(" ")}" (a comment goes in --comment "...")`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(alertname))
    throw new OpsError(`"${alertname}" is not an alert name (letters, digits and _, as ops alerts shows them)`);
  if (duration === undefined || duration === "")
    throw new OpsError(`for how long? npm run ops -- silence ${alertname} --for 2h`);
  const durationMs = /^[0-9.]+\s*[a-z]+$/i.test(duration.trim()) ? ms(duration as ms.StringValue) : Number.NaN;
  if (!Number.isFinite(durationMs) || durationMs <= 0)
    throw new OpsError(`--for ${duration}: give a duration with its unit, e.g. 30m, 2h or 1d`);
  if (durationMs < 60_000)
    throw new OpsError(`--for ${duration}: a silence shorter than a minute would end before it helps`);
  if (durationMs > MAX_SILENCE_MS)
    throw new OpsError(
      `--for ${duration} is longer than 30 days: silence it for less, and fix or change the rule meanwhile`,
    );
  return { alertname, durationMs, comment: comment?.trim() || "" };
}

/** POST /api/v2/silences's body: this alert name exactly, from now on. */
export function silenceBody(request: SilenceRequest, createdBy: string, now: Date) {
  return {
    matchers: [{ name: "alertname", value: request.alertname, isRegex: false, isEqual: true }],
    startsAt: now.toISOString(),
    endsAt: new Date(now.getTime() + request.durationMs).toISOString(),
    createdBy,
    comment: request.comment || `silenced with npm run ops -- silence by ${createdBy}`,
  };
}
