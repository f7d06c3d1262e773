// The alert rules' renderer (infra/monitoring/alert-rules.ts) and what every
// rule must carry: a threshold for each placeholder and a placeholder for each
// threshold, the labels Alertmanager routes on, and a runbook link to a
// section of docs/operations.md that exists.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ALERT_THRESHOLD_BOUNDS, DEFAULT_ALERT_THRESHOLDS } from "../../infra/config/alert-thresholds.js";
import {
  ALERT_RULE_FILES,
  THRESHOLD_PLACEHOLDERS,
  renderAlertRules,
  thresholdValues,
  type AlertRuleFile,
} from "../../infra/monitoring/alert-rules.js";
import { TemplateError } from "../../infra/host/render.js";
import { headingAnchors } from "../harness/doc-links.js";

const ROOT = join(import.meta.dirname, "../..");
const templates = Object.fromEntries(
  ALERT_RULE_FILES.map((file) => [file, readFileSync(join(ROOT, "templates/host/monitoring/rules", file), "utf8")]),
) as Record<AlertRuleFile, string>;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rulesOf = (text: string): Rule[] =>
  (parseYaml(text) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const rendered = renderAlertRules(templates, DEFAULT_ALERT_THRESHOLDS);
const allRules = ALERT_RULE_FILES.flatMap((file) => rulesOf(rendered[file]).map((rule) => ({ file, ...rule })));

describe("renderAlertRules", () => {
  it("fills every placeholder, and every threshold has one in some rule", () => {
    const used = new Set(
      Object.values(templates).flatMap((text) => [...text.matchAll(/\{\{([A-Z0-9_]+)\}\}/g)].map((m) => m[1])),
    );
    expect([...used].sort()).toEqual(Object.values(THRESHOLD_PLACEHOLDERS).sort());
    expect(Object.keys(THRESHOLD_PLACEHOLDERS).sort()).toEqual(Object.keys(ALERT_THRESHOLD_BOUNDS).sort());
    for (const text of Object.values(rendered)) expect(text).not.toMatch(/\{\{[A-Z0-9_]+\}\}/);
  });

  it("puts the stack's numbers where the placeholders were, and leaves Prometheus's own templating alone", () => {
    const files = renderAlertRules(templates, {
      ...DEFAULT_ALERT_THRESHOLDS,
      diskWarningPercent: 72,
      backupAgeFactor: 1.5,
    });
    const disk = rulesOf(files["host.yml"]).find((r) => r.alert === "HostDiskFilling")!;
    expect(disk.expr).toMatch(/\)\s*> 72\n?$/);
    expect(disk.annotations.description).toMatch(/^More than 72 % of \{\{ \$labels\.mountpoint \}\} is used/);
    expect(disk.annotations.summary).toContain("{{ $value | printf");
    const backup = rulesOf(files["upkeep.yml"]).find((r) => r.alert === "BackupTooOld")!;
    expect(backup.expr).toMatch(/> 1\.5 \* platform_backup_schedule_seconds/);
  });

  it("writes numbers as plain decimals", () => {
    const values = thresholdValues({
      ...DEFAULT_ALERT_THRESHOLDS,
      http5xxPercent: 0.1,
      ttftP99Seconds: 2.5,
      fail2banSurge: 100000,
    });
    expect(values).toMatchObject({
      HTTP_5XX_PERCENT: "0.1",
      TTFT_P99_SECONDS: "2.5",
      FAIL2BAN_SURGE: "100000",
      DISK_WARNING_PERCENT: "80",
    });
  });

  it("refuses a template with a placeholder it has no threshold for", () => {
    const broken = {
      ...templates,
      "host.yml": templates["host.yml"].replace("{{DISK_WARNING_PERCENT}}", "{{DISK_WARN}}"),
    };
    expect(() => renderAlertRules(broken, DEFAULT_ALERT_THRESHOLDS)).toThrow(TemplateError);
    expect(() => renderAlertRules(broken, DEFAULT_ALERT_THRESHOLDS)).toThrow(
      "monitoring/rules/host.yml: no value for {{DISK_WARN}}",
    );
  });
});

describe("every alert rule", () => {
  it("has a unique name and severity, a severity Alertmanager routes on, a summary and a description", () => {
    // A name has two rules only as a warning and a critical, which Alertmanager's
    // inhibition pairs by name (the warning waits while the critical fires).
    const names = allRules.map((r) => `${r.alert} ${r.labels.severity}`);
    expect(new Set(names).size).toBe(names.length);
    expect(
      allRules
        .filter((r) => r.labels.severity === "critical" && names.includes(`${r.alert} warning`))
        .map((r) => r.alert),
    ).toEqual(["HostDiskFilling", "ChatStoreFilling"]);
    for (const rule of allRules) {
      expect(["critical", "warning", "heartbeat"], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations.description, rule.alert).toMatch(/\S/);
    }
    // The heartbeat, and only it, goes to the dead man's switch.
    expect(allRules.filter((r) => r.labels.severity === "heartbeat").map((r) => r.alert)).toEqual(["Watchdog"]);
    expect(allRules.find((r) => r.alert === "Watchdog")!.expr).toBe("vector(1)");
  });

  it("links a runbook section of docs/operations.md that exists", () => {
    const anchors = headingAnchors(readFileSync(join(ROOT, "docs/operations.md"), "utf8"));
    for (const rule of allRules) {
      const [path, anchor] = rule.annotations.runbook!.split("#");
      expect(path, rule.alert).toBe("docs/operations.md");
      expect(anchors.has(anchor!), `${rule.alert}: docs/operations.md has no #${anchor}`).toBe(true);
    }
  });

  it("has a promtool test that names it, firing and quiet (the Watchdog fires always)", () => {
    for (const rule of allRules) {
      const test = readFileSync(
        join(ROOT, "test/templates/monitoring", rule.file.replace(".yml", ".test.yml")),
        "utf8",
      );
      const cases = (
        parseYaml(test) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }
      ).tests.flatMap((t) => t.alert_rule_test);
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} never fires in its test`,
      ).toBe(true);
      if (rule.alert !== "Watchdog")
        expect(
          own.some((c) => c.exp_alerts.length === 0),
          `${rule.alert} is never quiet in its test`,
        ).toBe(true);
    }
  });
});
