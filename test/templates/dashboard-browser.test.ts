// The dashboard (templates/host/monitoring/dashboard.html) as an operator
// gets it: installed as a console of a real Prometheus (Debian's, on
// loopback in a scratch folder, reading every second), scraping a small
// server that exposes the platform's metric names with known values, reached
// through `ops dashboard`'s SSH tunnel (a real sshd on loopback), and shown
// in headless chromium. Every panel must show its number and a line, the
// firing alert be listed (the heartbeat not), and a failed backup turn its
// panel red. A screenshot goes to .tmp/test-dashboard/dashboard.png.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEMPLATES_DIR } from "../../infra/host/templates.js";
import { dashboard } from "../../scripts/ops/commands/dashboard.js";
import { resolveTarget, type Target } from "../../scripts/ops/target.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { ManagedProcess } from "../../scripts/loopback/process.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { ROOT } from "../../scripts/project-root.js";
import { startBrowser, type RunningBrowser } from "../harness/browser.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";

const OUT = join(ROOT, ".tmp/test-dashboard");
const BACKUP_AGE = 2 * 3600 + 10 * 60;

/**
 * The platform's metrics as the API, Caddy, node_exporter and the textfile
 * collector name them; the counters grow by the same amount at every scrape,
 * so every rate and ratio is known: 1 request in 11 a 5xx, the store 42 %
 * full, the disk 62.5 %, 3 streams open, the last good backup 2 h 10 min ago.
 */
function metricsServer(state: { backupOk: number }): Server {
  let scrapes = 0;
  const backupAt = Math.floor(Date.now() / 1000) - BACKUP_AGE;
  return createServer((_req, res) => {
    const n = ++scrapes;
    const buckets: Array<[string, number]> = [
      ["0.1", 0],
      ["0.25", 1],
      ["0.5", 4],
      ["1", 8],
      ["2", 9],
      ["4", 10],
      ["8", 10],
      ["16", 10],
      ["32", 10],
      ["+Inf", 10],
    ];
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(
      [
        `caddy_http_request_duration_seconds_count{server="srv0",code="200"} ${10 * n}`,
        `caddy_http_request_duration_seconds_count{server="srv0",code="502"} ${n}`,
        `llm_upstream_errors_total{provider="anthropic",code="overloaded"} ${n}`,
        ...buckets.map(([le, share]) => `chat_time_to_first_token_seconds_bucket{le="${le}"} ${share * n}`),
        `chat_time_to_first_token_seconds_count ${10 * n}`,
        "chat_active_streams 3",
        'chat_store_bytes{stream="CHAT_EVENTS"} 42000000',
        'chat_store_limit_bytes{stream="CHAT_EVENTS"} 100000000',
        'chat_store_bytes{stream="KV_conversations"} 5000',
        'chat_store_limit_bytes{stream="KV_conversations"} 0',
        'node_filesystem_avail_bytes{mountpoint="/",fstype="ext4"} 30000000000',
        'node_filesystem_size_bytes{mountpoint="/",fstype="ext4"} 80000000000',
        `platform_backup_last_success_timestamp_seconds ${backupAt}`,
        `platform_backup_last_run_success ${state.backupOk}`,
        "platform_backup_schedule_seconds 3600",
        "",
      ].join("\n"),
    );
  });
}

const RULES = `groups:
  - name: test
    rules:
      - alert: ChatStoreFilling
        expr: max(chat_store_bytes / (chat_store_limit_bytes > 0)) > 0.4
        labels: { severity: warning }
        annotations:
          summary: The chat store is filling up
          runbook: docs/operations.md#the-dashboard
      - alert: Watchdog
        expr: vector(1)
        labels: { severity: heartbeat }
`;

let scratch: { path: string; remove: () => void };
let metrics: Server;
const state = { backupOk: 1 };
let prometheus: ManagedProcess;
let promPort: number;
let sshd: TestSshd;
let target: Target;
let browser: RunningBrowser;
let stopTunnel: () => void;
let tunnelDone: Promise<number>;
let url: string;

async function prom<T>(path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}`);
  return ((await response.json()) as { data: T }).data;
}
const scalar = async (promql: string) => {
  const result = await prom<{ result: Array<{ value: [number, string] }> }>(
    `query?query=${encodeURIComponent(promql)}`,
  );
  return result.result.length ? Number(result.result[0]!.value[1]) : NaN;
};

/** Reads `read` every half second until `done` holds; fails with the last value after `ms`. */
async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

beforeAll(async () => {
  scratch = scratchDir("dashboard");
  metrics = metricsServer(state);
  await new Promise<void>((resolve) => metrics.listen(0, "127.0.0.1", resolve));
  const metricsPort = (metrics.address() as AddressInfo).port;
  promPort = await freePort();
  const consoles = join(scratch.path, "consoles");
  const libraries = join(scratch.path, "console_libraries");
  mkdirSync(libraries, { recursive: true });
  // The file the monitoring step installs as /etc/prometheus/consoles/dashboard.html.
  mkdirSync(consoles);
  cpSync(join(TEMPLATES_DIR, "host/monitoring/dashboard.html"), join(consoles, "dashboard.html"));
  writeFileSync(join(scratch.path, "rules.yml"), RULES);
  writeFileSync(
    join(scratch.path, "prometheus.yml"),
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s }",
      `rule_files: ["${join(scratch.path, "rules.yml")}"]`,
      "scrape_configs:",
      `  - { job_name: platform, static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }] }`,
      "",
    ].join("\n"),
  );
  prometheus = new ManagedProcess("prometheus", "/usr/bin/prometheus", [
    `--config.file=${join(scratch.path, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(scratch.path, "data")}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    `--web.console.templates=${consoles}`,
    `--web.console.libraries=${libraries}`,
  ]);
  await prometheus.waitFor(/Server is ready to receive web requests/, 30_000);
  // Enough samples for every rate, and the alert firing, before the page asks.
  await waitUntil(
    "scrapes",
    () => scalar('count_over_time(up{job="platform"}[1m])'),
    (n) => n >= 8,
    30_000,
  );
  await waitUntil(
    "the alerts",
    async () => (await prom<{ alerts: Array<{ state: string }> }>("alerts")).alerts.map((a) => a.state),
    (states) => states.join() === "firing,firing",
    15_000,
  );

  sshd = await startTestSshd({ allowTunnels: true });
  target = resolveTarget(
    { host: "127.0.0.1", port: String(sshd.port), user: sshd.user, key: sshd.keyPath, hostKey: sshd.hostKey },
    {},
  );
  const printed: string[] = [];
  tunnelDone = dashboard(target, {
    remotePort: promPort,
    until: new Promise<void>((resolve) => (stopTunnel = resolve)),
    print: (text) => printed.push(text),
  });
  await waitUntil(
    "the tunnel's address",
    async () => printed.length,
    (n) => n === 1,
    15_000,
  );
  url = /http:\/\/127\.0\.0\.1:\d+\/consoles\/dashboard\.html/.exec(printed[0]!)![0];
  browser = await startBrowser();
  mkdirSync(OUT, { recursive: true });
}, 90_000);

afterAll(async () => {
  stopTunnel?.();
  await tunnelDone?.catch(() => undefined);
  await target?.transport.endSession();
  await browser?.close();
  await sshd?.stop();
  await prometheus?.stop();
  await new Promise((resolve) => (metrics ? metrics.close(resolve) : resolve(undefined)));
  scratch?.remove();
});

interface Shown {
  id: string;
  state: string;
  value: string;
  note: string;
  bad: boolean;
  /** Points of each line drawn. */
  lines: number[];
}

/** Loads the page and waits for its first refresh; what each panel shows. */
async function show(page: Page): Promise<{ panels: Shown[]; alerts: { value: string; items: string[] } }> {
  await page.goto(`${url}?range=2m`);
  await page.waitForSelector("body[data-refreshed]", { timeout: 20_000 });
  const text = async (locator: Locator) => ((await locator.textContent()) ?? "").trim();
  const panels: Shown[] = [];
  for (const section of await page.locator("section[data-panel]").all()) {
    const lines: number[] = [];
    for (const path of await section.locator("path").all())
      lines.push(((await path.getAttribute("d")) ?? "").split(/[ML]/).length - 1);
    panels.push({
      id: (await section.getAttribute("data-panel")) ?? "",
      state: (await section.getAttribute("data-state")) ?? "",
      value: await text(section.locator(".value")),
      note: await text(section.locator(".note")),
      bad: ((await section.getAttribute("class")) ?? "").split(" ").includes("bad"),
      lines,
    });
  }
  const items: string[] = [];
  for (const item of await page.locator("#alerts li").all()) items.push(await text(item));
  return { panels, alerts: { value: await text(page.locator("#alerts .value")), items } };
}

describe("the dashboard in a browser, through ops dashboard's tunnel to a real Prometheus", () => {
  it("shows every panel's number and its line, and the firing alerts; a screenshot is kept", async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    const { panels, alerts } = await show(page);
    await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });

    expect(panels.map((p) => p.id)).toEqual([
      "requests",
      "errors",
      "upstream",
      "ttft",
      "streams",
      "store",
      "disk",
      "backup",
    ]);
    for (const panel of panels) {
      expect(panel.state, `${panel.id}: ${panel.note}`).toBe("data");
      expect(panel.value, panel.id).toMatch(/[0-9]/);
      // A line over the range, not a dot: several scrapes are in it.
      expect(Math.min(...panel.lines), panel.id).toBeGreaterThanOrEqual(3);
    }
    const value = (id: string) => panels.find((p) => p.id === id)!.value;
    // Known from the metrics served: 1 request in 11 a 502. (The rates themselves
    // are averages over 5 minutes, which this Prometheus has not been up for.)
    expect(value("requests")).toMatch(/^[0-9.]+ \/s$/);
    expect(parseFloat(value("requests"))).toBeGreaterThan(0);
    expect(value("errors")).toBe("9.09 %");
    expect(value("upstream")).toMatch(/^[0-9.]+ \/min$/);
    expect(parseFloat(value("upstream"))).toBeGreaterThan(0);
    expect(value("ttft")).toMatch(/^p50\s*625 ms p99\s*3\.80 s$/);
    expect(panels.find((p) => p.id === "ttft")!.lines).toHaveLength(2);
    expect(value("streams")).toBe("3");
    // The fullest stream against its own limit; a stream with no limit (0) is left out.
    expect(value("store")).toBe("42.0 %");
    expect(value("disk")).toBe("62.5 %");
    expect(value("backup")).toBe("2h 10m");
    expect(panels.find((p) => p.id === "backup")!.note).toBe("last run succeeded");
    expect(panels.find((p) => p.id === "backup")!.bad).toBe(false);
    // The heartbeat always fires: it is no news to a person.
    expect(alerts.value).toBe("1");
    expect(alerts.items).toEqual([
      "ChatStoreFilling [warning]: The chat store is filling up (runbook: docs/operations.md#the-dashboard)",
    ]);
    await page.close();
  });

  it("turns the backup panel red when the last run failed", async () => {
    state.backupOk = 0;
    // Every sample of the last 3 s says so: the page's query, a moment later, sees it too.
    await waitUntil(
      "the failed run",
      () => scalar("max_over_time(platform_backup_last_run_success[3s])"),
      (v) => v === 0,
      10_000,
    );
    const page = await browser.context.newPage();
    const backup = (await show(page)).panels.find((p) => p.id === "backup")!;
    expect(backup.note).toBe("LAST RUN FAILED");
    expect(backup.bad).toBe(true);
    await page.screenshot({ path: join(OUT, "dashboard-backup-failed.png"), fullPage: true });
    await page.close();
  });
});
