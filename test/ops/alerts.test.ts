// The decisions of `ops alerts`, `ops silence` and status's alerts line:
// Alertmanager's answer read, the table, the silence's body, bad input refused.
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ago,
  firingSummary,
  formatAlerts,
  formatFiring,
  parseAlerts,
  parseSilence,
  silenceBody,
} from "../../scripts/ops/alerts.js";
import { OpsError } from "../../scripts/ops/ops-error.js";

const NOW = new Date("2026-12-07T15:00:00Z");
const alert = (
  labels: Record<string, string>,
  startsAt: string,
  annotations: Record<string, string> = {},
  status: { silencedBy?: string[]; inhibitedBy?: string[] } = {},
) => ({
  labels,
  annotations,
  startsAt,
  endsAt: "2026-12-07T15:05:00Z",
  fingerprint: "x",
  receivers: [{ name: "team" }],
  status: {
    state: status.silencedBy?.length || status.inhibitedBy?.length ? "suppressed" : "active",
    silencedBy: status.silencedBy ?? [],
    inhibitedBy: status.inhibitedBy ?? [],
  },
});

// As GET /api/v2/alerts?active=true&silenced=true&inhibited=true answers.
const ANSWER = [
  alert({ alertname: "Watchdog", severity: "heartbeat" }, "2026-12-01T00:00:00Z"),
  alert({ alertname: "DiskFilling", severity: "warning", instance: "host" }, "2026-12-07T14:50:00Z", {
    summary: "Disk 85% full",
    runbook: "docs/operations.md#disk-filling",
  }),
  alert({ alertname: "BackupFailed", severity: "critical", job: "node" }, "2026-12-07T11:48:00Z", {
    summary: "The last backup failed",
    runbook: "docs/operations.md#backup-failed",
  }),
  alert({ alertname: "RebootRequired", severity: "warning" }, "2026-12-05T09:00:00Z", {}, { silencedBy: ["s-1"] }),
];

describe("ops alerts", () => {
  it("reads Alertmanager's list: most severe first, then oldest; silenced ones marked", () => {
    const alerts = parseAlerts(ANSWER);
    expect(alerts.map((a) => `${a.severity} ${a.name} ${a.state}`)).toEqual([
      "critical BackupFailed active",
      "warning RebootRequired silenced",
      "warning DiskFilling active",
      "heartbeat Watchdog active",
    ]);
    expect(alerts[0]).toEqual({
      name: "BackupFailed",
      severity: "critical",
      since: "2026-12-07T11:48:00Z",
      summary: "The last backup failed",
      runbook: "docs/operations.md#backup-failed",
      state: "active",
      labels: { job: "node" },
    });
    expect(() => parseAlerts({ error: "x" })).toThrow(OpsError);
  });

  it("prints one line an alert with since-when, and its runbook below; the heartbeat apart", () => {
    expect(formatAlerts(parseAlerts(ANSWER), NOW)).toBe(
      [
        "SEVERITY  SINCE                              ALERT                      SUMMARY",
        "critical  2026-12-07 11:48 UTC (3h 12m ago)  BackupFailed               The last backup failed",
        "  runbook: docs/operations.md#backup-failed   (job=node)",
        "warning   2026-12-05 09:00 UTC (2d 6h ago)   RebootRequired [silenced]  -",
        "  runbook: none given",
        "warning   2026-12-07 14:50 UTC (10m ago)     DiskFilling                Disk 85% full",
        "  runbook: docs/operations.md#disk-filling   (instance=host)",
        "Heartbeat (Watchdog) firing: the outside check is pinged.",
      ].join("\n"),
    );
  });

  it("says when nothing fires, and when the heartbeat is missing", () => {
    expect(formatAlerts([], NOW)).toBe(
      "No alerts firing.\nHeartbeat (Watchdog) NOT firing: Prometheus is not evaluating rules, and the outside check will raise the alarm.",
    );
  });

  it("counts how long ago in the unit a person reads", () => {
    expect(ago("2026-12-07T14:59:15Z", NOW)).toBe("45s ago");
    expect(ago("2026-12-07T13:00:00Z", NOW)).toBe("2h 0m ago");
    expect(ago("2026-12-01T15:00:00Z", NOW)).toBe("6d 0h ago");
    expect(ago("not a time", NOW)).toBe("?");
  });
});

describe("ops status's alerts line", () => {
  it("names what is firing, what is held back, and whether the heartbeat is on", () => {
    const summary = firingSummary(parseAlerts([...ANSWER, ANSWER[1]!]));
    expect(summary).toEqual({ active: ["BackupFailed", "DiskFilling"], quiet: ["RebootRequired"], heartbeat: true });
    expect(formatFiring(summary)).toBe(
      "  alerts     2 FIRING: BackupFailed, DiskFilling; 1 silenced or inhibited: RebootRequired; heartbeat on (npm run ops -- alerts)",
    );
    expect(formatFiring(firingSummary([]))).toBe("  alerts     none firing; heartbeat OFF");
    expect(formatFiring(null)).toMatch(/Alertmanager not answering on the host/);
  });
});

describe("ops silence", () => {
  it("takes an alert name and a duration, with an optional comment", () => {
    expect(parseSilence(["DiskFilling"], "2h", " cleaning up ")).toEqual({
      alertname: "DiskFilling",
      durationMs: 7_200_000,
      comment: "cleaning up",
    });
  });

  it("refuses bad input, saying what to give", () => {
    const refusal = (args: string[], duration?: string) => {
      try {
        parseSilence(args, duration, undefined);
      } catch (error) {
        expect(error).toBeInstanceOf(OpsError);
        return (error as Error).message;
      }
      throw new Error("expected a refusal");
    };
    expect(refusal([], "2h")).toMatch(/^silence which alert\?/);
    expect(refusal(["DiskFilling"])).toBe("for how long? npm run ops -- silence DiskFilling --for 2h");
    expect(refusal(["Disk Filling"], "2h")).toMatch(/not an alert name/);
    expect(refusal(["DiskFilling", "now"], "2h")).toMatch(/takes one alert name/);
    expect(refusal(["alertname=~.*"], "2h")).toMatch(/not an alert name/);
    for (const bad of ["soon", "2", "-2h", "0h"]) expect(refusal(["DiskFilling"], bad)).toMatch(/give a duration/);
    expect(refusal(["DiskFilling"], "30s")).toMatch(/shorter than a minute/);
    expect(refusal(["DiskFilling"], "31d")).toMatch(/longer than 30 days/);
  });

  it("builds the silence: exactly that alert name, from now for the duration, by whom and why", () => {
    expect(silenceBody({ alertname: "DiskFilling", durationMs: 7_200_000, comment: "" }, "ana@laptop", NOW)).toEqual({
      matchers: [{ name: "alertname", value: "DiskFilling", isRegex: false, isEqual: true }],
      startsAt: "2026-12-07T15:00:00.000Z",
      endsAt: "2026-12-07T17:00:00.000Z",
      createdBy: "ana@laptop",
      comment: "silenced with npm run ops -- silence by ana@laptop",
    });
  });
});

describe("npm run ops -- silence, from the command line", () => {
  // The ops entry as npm runs it, with no stack, server or .env to find:
  // a bad silence is refused before any of them is looked for.
  const ops = (args: string[]) => {
    const root = join(import.meta.dirname, "../..");
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(PULUMI_|OPS_)/.test(key)));
    const run = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/ops.ts"), ...args], {
      cwd: tmpdir(),
      env: { ...env, NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: run.status, stderr: run.stderr.trim() };
  };

  it("refuses a bad duration or a missing name, saying what to give", () => {
    expect(ops(["silence", "DiskFull", "--for", "soon"])).toEqual({
      code: 1,
      stderr: "ops: --for soon: give a duration with its unit, e.g. 30m, 2h or 1d",
    });
    expect(ops(["silence", "--for", "2h"]).stderr).toMatch(/^ops: silence which alert\?/);
  });

  it("lists alerts and silence in its help", () => {
    expect(ops(["silence", "--help"]).code).toBe(0);
    const help = spawnSync(
      join(import.meta.dirname, "../../node_modules/.bin/tsx"),
      [join(import.meta.dirname, "../../scripts/ops.ts"), "help"],
      { encoding: "utf8" },
    ).stdout;
    expect(help).toContain("alerts [--json]");
    expect(help).toContain("silence ALERTNAME --for 2h [--comment TEXT]");
  });
});
