// The alert rules (templates/host/monitoring/rules/), rendered as a deploy
// renders them, through the real promtool: `check rules` for their syntax and
// `test rules` for when each alert fires and when it stays quiet
// (test/templates/monitoring/*.test.yml), with the default thresholds and
// with others; and a rule broken on purpose that its test must catch.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_ALERT_THRESHOLDS, type AlertThresholds } from "../../infra/config/alert-thresholds.js";
import { ALERT_RULE_FILES, renderAlertRules, type AlertRuleFile } from "../../infra/monitoring/alert-rules.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const RULES = join(import.meta.dirname, "../../templates/host/monitoring/rules");
const TESTS = join(import.meta.dirname, "monitoring");
const templates = Object.fromEntries(
  ALERT_RULE_FILES.map((file) => [file, readFileSync(join(RULES, file), "utf8")]),
) as Record<AlertRuleFile, string>;

const scratch = scratchDir("alert-rules");
afterAll(() => scratch.remove());
let folders = 0;

/** The rule files rendered into a new folder, with the named promtool test files beside them. */
function renderInto(thresholds: AlertThresholds, tests: string[], edit = (text: string) => text): string {
  const dir = join(scratch.path, `rules-${folders++}`);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(renderAlertRules(templates, thresholds)))
    writeFileSync(join(dir, file), edit(text));
  for (const test of tests) copyFileSync(join(TESTS, test), join(dir, test));
  return dir;
}

async function promtool(dir: string, ...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)("promtool", args, { cwd: dir });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

const GROUP_TESTS = ALERT_RULE_FILES.map((file) => file.replace(/\.yml$/, ".test.yml"));

describe("the alert rules through promtool", () => {
  it("pass promtool check rules with the default thresholds, every file", async () => {
    const dir = renderInto(DEFAULT_ALERT_THRESHOLDS, []);
    const check = await promtool(dir, "check", "rules", ...ALERT_RULE_FILES);
    expect(check.ok, check.output).toBe(true);
    expect(check.output.match(/SUCCESS: \d+ rules found/g)).toHaveLength(ALERT_RULE_FILES.length);
  });

  it.each(GROUP_TESTS)("fire and stay quiet as %s says, with the default thresholds", async (test) => {
    const dir = renderInto(DEFAULT_ALERT_THRESHOLDS, [test]);
    const run = await promtool(dir, "test", "rules", test);
    expect(run.ok, run.output).toBe(true);
    expect(run.output).toMatch(/SUCCESS/);
  });

  it("follow thresholds other than the defaults (custom-thresholds.test.yml)", async () => {
    const custom: AlertThresholds = {
      ...DEFAULT_ALERT_THRESHOLDS,
      diskWarningPercent: 70,
      storeCriticalPercent: 95,
      backupAgeFactor: 1.5,
      certificateDays: 21,
      fail2banSurge: 5,
    };
    const dir = renderInto(custom, ["custom-thresholds.test.yml"]);
    const check = await promtool(dir, "check", "rules", ...ALERT_RULE_FILES);
    expect(check.ok, check.output).toBe(true);
    const run = await promtool(dir, "test", "rules", "custom-thresholds.test.yml");
    expect(run.ok, run.output).toBe(true);
    // The same cases against the defaults go the other way: the file tests the thresholds, not the data.
    const defaults = renderInto(DEFAULT_ALERT_THRESHOLDS, ["custom-thresholds.test.yml"]);
    const refused = await promtool(defaults, "test", "rules", "custom-thresholds.test.yml");
    expect(refused.ok).toBe(false);
    for (const alert of ["HostDiskFilling", "ChatStoreFilling", "BackupTooOld", "CertificateExpiringSoon"])
      expect(refused.output).toContain(`alertname: ${alert}`);
  });

  it("catch a rule broken on purpose: a shorter `for` fires too early, a wrong label misses", async () => {
    const early = renderInto(DEFAULT_ALERT_THRESHOLDS, ["host.test.yml"], (text) =>
      text.replace(/(- alert: HostDown\n\s+expr: .*\n\s+for: )2m/, "$11m"),
    );
    expect(readFileSync(join(early, "host.yml"), "utf8")).toMatch(/alert: HostDown\n.*\n\s+for: 1m/);
    const run = await promtool(early, "test", "rules", "host.test.yml");
    expect(run.ok).toBe(false);
    expect(run.output).toMatch(/alertname: HostDown, time: 3m/);

    const mislabelled = renderInto(DEFAULT_ALERT_THRESHOLDS, ["platform.test.yml"], (text) =>
      text.replace('nats_connected{job="api"}', 'nats_connected{job="nats"}'),
    );
    const missed = await promtool(mislabelled, "test", "rules", "platform.test.yml");
    expect(missed.ok).toBe(false);
    expect(missed.output).toMatch(/alertname: ApiNatsDisconnected, time: 2m/);
  });

  it("promtool check rules refuses a broken expression", async () => {
    const dir = renderInto(DEFAULT_ALERT_THRESHOLDS, [], (text) =>
      text.replace('expr: up{job="node"} == 0', 'expr: up{job="node"} == (0'),
    );
    const check = await promtool(dir, "check", "rules", "host.yml");
    expect(check.ok).toBe(false);
    expect(check.output).toMatch(/HostDown|parse error|unclosed left parenthesis/);
  });
});
