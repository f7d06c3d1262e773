// The rendered alertmanager.yml through Alertmanager's own checker (amtool
// 0.25, Debian's prometheus-alertmanager): every receiver combination loads,
// a broken copy is refused, and amtool's router sends each alert where the
// design says.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { AlertReceivers } from "../../infra/config/alert-receivers.js";
import { renderAlertmanagerConfig } from "../../infra/monitoring/alertmanager-config.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const dir = scratchDir("alertmanager-config");
afterAll(() => dir.remove());

const EMAIL: AlertReceivers["email"] = {
  to: ["ops@example.com"],
  from: "alerts@example.com",
  smarthost: "smtp.example.com:587",
  username: "alerts",
  password: "pw",
  requireTls: true,
};
const COMBINATIONS: Record<string, AlertReceivers> = {
  none: {},
  "e-mail and heartbeat": { email: EMAIL, heartbeatUrl: "https://hc-ping.example.com/uuid" },
  "alertmanager webhook": { webhook: { url: "https://ntfy.example.com/alerts", format: "alertmanager" } },
  slack: { email: EMAIL, webhook: { url: "https://hooks.slack.com/services/T/B/x", format: "slack" } },
  discord: {
    webhook: { url: "https://discord.com/api/webhooks/1/x", format: "discord" },
    heartbeatUrl: "https://x.example.com/p",
  },
};

let counter = 0;
function written(receivers: AlertReceivers, edit = (text: string) => text): string {
  const path = join(dir.path, `alertmanager-${counter++}.yml`);
  writeFileSync(path, edit(renderAlertmanagerConfig(receivers, { secretsDir: dir.path }).config.content));
  return path;
}

async function amtool(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)("amtool", args);
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** The receiver amtool's router picks for an alert with these labels. */
async function routedTo(config: string, labels: string[]): Promise<string> {
  const result = await amtool(["config", "routes", "test", `--config.file=${config}`, ...labels]);
  expect(result.ok, result.output).toBe(true);
  return result.output.split("\n")[0]!.trim();
}

describe("alertmanager.yml (amtool check-config)", () => {
  for (const [name, receivers] of Object.entries(COMBINATIONS)) {
    it(`loads with ${name}`, async () => {
      const result = await amtool(["check-config", written(receivers)]);
      expect(result.ok, result.output).toBe(true);
      expect(result.output).toContain("SUCCESS");
    });
  }

  it("refuses a broken copy: a route to a receiver that is not defined", async () => {
    const broken = written(COMBINATIONS.none!, (text) => text.replace("receiver: nobody", "receiver: someone"));
    const result = await amtool(["check-config", broken]);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/undefined receiver "someone"/);
  });

  it("routes the Watchdog only to the heartbeat, and everything else to the team", async () => {
    const config = written(COMBINATIONS["e-mail and heartbeat"]!);
    expect(await routedTo(config, ["alertname=Watchdog", "severity=heartbeat"])).toBe("heartbeat");
    expect(await routedTo(config, ["alertname=DiskFull", "severity=critical"])).toBe("team");
    expect(await routedTo(config, ["alertname=DiskFull", "severity=warning"])).toBe("team");
  });

  it("routes the Watchdog nowhere, not to the team, when there is no heartbeat URL", async () => {
    const config = written(COMBINATIONS.slack!);
    expect(await routedTo(config, ["alertname=Watchdog", "severity=heartbeat"])).toBe("nobody");
    expect(await routedTo(config, ["alertname=BackupFailed", "severity=critical"])).toBe("team");
  });
});
