// The dashboard on the deployed test host (test/harness/deployed-host.ts), as
// an operator opens it: `ops dashboard` tunnels over SSH, as the deploy user
// and through the host's own sshd (its PermitOpen), to the host's Prometheus
// on 127.0.0.1:9090, which serves the console the monitoring step installed;
// headless chromium loads it and the panels fed by the real API show data.
// A screenshot goes to .tmp/test-dashboard-host/dashboard.png.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboard } from "../../scripts/ops/commands/dashboard.js";
import { resolveTarget, type Target } from "../../scripts/ops/target.js";
import { ROOT } from "../../scripts/project-root.js";
import { startBrowser, type RunningBrowser } from "../harness/browser.js";
import { DEPLOY_TIMEOUT_MS, deployedHost, hostKeyNow } from "../harness/deployed-host.js";

const OUT = join(ROOT, ".tmp/test-dashboard-host");

let target: Target;
let browser: RunningBrowser;
let stopTunnel: () => void;
let tunnelDone: Promise<number>;
let url: string;

beforeAll(async () => {
  const { host } = await deployedHost();
  target = resolveTarget({ host: host.address, user: "deploy", key: host.keyPath, hostKey: hostKeyNow() }, {});
  const printed: string[] = [];
  tunnelDone = dashboard(target, {
    until: new Promise<void>((resolve) => (stopTunnel = resolve)),
    print: (text) => printed.push(text),
  });
  // dashboard() prints only once the page answered through the tunnel; it throws otherwise.
  await Promise.race([
    tunnelDone.then(() => {
      throw new Error("ops dashboard ended before printing its address");
    }),
    (async () => {
      while (printed.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    })(),
  ]);
  url = /http:\/\/127\.0\.0\.1:\d+\/consoles\/dashboard\.html/.exec(printed[0]!)![0];
  browser = await startBrowser();
  mkdirSync(OUT, { recursive: true });
}, DEPLOY_TIMEOUT_MS);

afterAll(async () => {
  stopTunnel?.();
  await tunnelDone?.catch(() => undefined);
  await target?.transport.endSession();
  await browser?.close();
});

describe("the dashboard on the deployed host, through ops dashboard's tunnel", () => {
  it("is served by the host's Prometheus from its console folder, and shows the API's panels with data", async () => {
    const flags = (await (await fetch(new URL("/api/v1/status/flags", url))).json()) as {
      data: Record<string, string>;
    };
    expect(flags.data["web.console.templates"]).toBe("/etc/prometheus/consoles");
    expect(flags.data["web.listen-address"]).toBe("127.0.0.1:9090");

    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(url);
    await page.waitForSelector("body[data-refreshed]", { timeout: 30_000 });
    await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });
    const state = async (id: string) => page.locator(`section[data-panel="${id}"]`).getAttribute("data-state");
    const value = async (id: string) =>
      ((await page.locator(`section[data-panel="${id}"] .value`).textContent()) ?? "").trim();
    // The API instances' own metrics, scraped from the real API: no stream open, the store under its limit.
    expect(await state("streams")).toBe("data");
    expect(await value("streams")).toBe("0");
    expect(await state("store")).toBe("data");
    expect(await value("store")).toMatch(/^[0-9.]+ %$/);
    // Prometheus's alerts answered (whatever fires on a test host), and no panel's query was refused.
    expect(await page.locator("#alerts").getAttribute("data-state")).toBe("data");
    expect(await page.locator('section[data-state="error"]').count()).toBe(0);
    await page.close();
  });
});
