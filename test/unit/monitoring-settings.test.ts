import { describe, expect, it } from "vitest";
import { StackConfigError } from "../../infra/config/errors.js";
import { MONITORING_DEFAULTS, parseMonitoringSettings } from "../../infra/config/monitoring-settings.js";

const raw = (values: Record<string, string>) => ({ values, secretKeys: new Set<string>(), stack: "prod" });

function problem(values: Record<string, string>): StackConfigError {
  try {
    parseMonitoringSettings(raw(values));
  } catch (err) {
    if (err instanceof StackConfigError) return err;
    throw err;
  }
  throw new Error("expected a StackConfigError");
}

describe("parseMonitoringSettings", () => {
  it("keeps 15 days and 1GB when nothing is set (or set empty)", () => {
    expect(parseMonitoringSettings(raw({}))).toEqual({ retention: "15d", retentionSize: "1GB" });
    expect(parseMonitoringSettings(raw({ monitoringRetention: " ", monitoringRetentionSize: "" }))).toEqual(
      MONITORING_DEFAULTS,
    );
  });

  it("takes Prometheus's own units", () => {
    expect(parseMonitoringSettings(raw({ monitoringRetention: "4w", monitoringRetentionSize: "512MB" }))).toEqual({
      retention: "4w",
      retentionSize: "512MB",
    });
    expect(parseMonitoringSettings(raw({ monitoringRetention: "1y", monitoringRetentionSize: "2TB" })).retention).toBe(
      "1y",
    );
    expect(parseMonitoringSettings(raw({ monitoringRetention: "24h" })).retention).toBe("24h");
  });

  it.each([
    ["monitoringRetention", "15 days", /"15 days" is not an age Prometheus reads/],
    ["monitoringRetention", "15D", /is not an age/],
    ["monitoringRetention", "0d", /is not an age/],
    ["monitoringRetention", "1.5d", /is not an age/],
    ["monitoringRetention", "12h", /"12h" is less than a day/],
    ["monitoringRetentionSize", "1G", /"1G" is not a size Prometheus reads/],
    ["monitoringRetentionSize", "1GiB", /is not a size/],
    ["monitoringRetentionSize", "-1GB", /is not a size/],
    ["monitoringRetentionSize", "10MB", /"10MB" is less than 64MB/],
  ])("refuses %s %s, naming the setting and the fix", (key, value, message) => {
    const error = problem({ [key]: value });
    expect(error.key).toBe(key);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(new RegExp(`pulumi config set ${key} `));
  });
});
