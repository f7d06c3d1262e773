// `npm run ops -- dashboard`: its decisions (the port flag, the address, what
// an operator is told), and the command itself through a tunnel on this
// machine (the local transport) to small HTTP servers standing in for
// Prometheus: the address printed leads to the page, a taken port, a host
// where nothing answers and a Prometheus without the dashboard each give
// their own error, and the tunnel closes when told. Through a real sshd to a
// real Prometheus: test/templates/dashboard-browser.test.ts.
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { MONITORING_PORTS } from "../../infra/monitoring/prometheus-config.js";
import { dashboard } from "../../scripts/ops/commands/dashboard.js";
import {
  DASHBOARD_PATH,
  dashboardUrl,
  listenError,
  parseLocalPort,
  tunnelBanner,
} from "../../scripts/ops/dashboard.js";
import { OpsError } from "../../scripts/ops/ops-error.js";
import type { Target } from "../../scripts/ops/target.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { ROOT } from "../../scripts/project-root.js";

describe("the dashboard's decisions", () => {
  it("takes --local-port as a port number, or none for any free port, and refuses anything else by name", () => {
    expect(parseLocalPort(undefined)).toBeUndefined();
    expect(parseLocalPort("")).toBeUndefined();
    expect(parseLocalPort("9090")).toBe(9090);
    for (const bad of ["0", "65536", "90x", "-1", "1.5", "http"])
      expect(() => parseLocalPort(bad), bad).toThrow(
        new RegExp(`^--local-port ${bad.replace(".", "\\.")}: give a port number`),
      );
  });

  it("gives the console's address on this machine's loopback", () => {
    expect(dashboardUrl(19090)).toBe("http://127.0.0.1:19090/consoles/dashboard.html");
    expect(tunnelBanner("deploy@203.0.113.10:22", 19090)).toContain(
      "\n  http://127.0.0.1:19090/consoles/dashboard.html\n",
    );
    expect(tunnelBanner("deploy@203.0.113.10:22", 19090)).toMatch(/Ctrl-C closes the tunnel/);
  });

  it("says a taken port is taken and how to pick another; other listen failures keep their reason", () => {
    const taken = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" });
    expect(listenError(taken, 9090)).toBeInstanceOf(OpsError);
    expect(listenError(taken, 9090).message).toMatch(/^port 9090 on this machine is taken .*--local-port N/);
    const denied = Object.assign(new Error("listen EACCES"), { code: "EACCES" });
    expect(listenError(denied, 80).message).toMatch(/port 80 needs privileges here: choose one above 1023/);
    expect(listenError(new Error("odd"), 5).message).toMatch(/could not listen on 127\.0\.0\.1:5: odd/);
  });
});

describe("npm run ops -- dashboard, the command line", () => {
  const ops = (args: string[]) =>
    spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/ops.ts"), ...args], {
      encoding: "utf8",
      timeout: 60_000,
      // No stack, no .env: a bad flag must be said before either is read.
      cwd: tmpdir(),
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });

  it("refuses a bad --local-port by name before looking for the host", () => {
    const run = ops(["dashboard", "--local-port", "http"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("ops: --local-port http: give a port number from 1 to 65535");
  });

  it("is in the help, with its flag", () => {
    const run = ops(["dashboard", "--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^npm run ops -- dashboard \[--local-port N\]/);
  });
});

describe("the host lets the deploy user tunnel to Prometheus", () => {
  it("names Prometheus's port in sshd's PermitOpen, beside NATS's (templates/host/ssh/00-platform-hardening.conf)", () => {
    const conf = loadTemplates().bootstrap["ssh/00-platform-hardening.conf"];
    const permitted = /^PermitOpen (.+)$/m.exec(conf)![1]!.split(" ");
    expect(permitted).toEqual(["127.0.0.1:4222", `127.0.0.1:${MONITORING_PORTS.prometheus}`]);
  });
});

describe("ops dashboard through a tunnel", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A stand-in for Prometheus: `status` for every request; the page's text for the dashboard's path. */
  async function prometheus(status: number): Promise<number> {
    const server = createServer((req, res) => {
      res.writeHead(req.url === DASHBOARD_PATH ? status : 404, { "content-type": "text/html" });
      res.end(req.url === DASHBOARD_PATH ? "<title>Platform dashboard</title>" : "not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  const target = { description: "the test host", transport: new LocalTransport("the test host") } as unknown as Target;

  it("prints the address, which leads to the dashboard while the tunnel lasts, and closes it when told", async () => {
    const remotePort = await prometheus(200);
    const printed: string[] = [];
    let stop!: () => void;
    const until = new Promise<void>((resolve) => (stop = resolve));
    const running = dashboard(target, { remotePort, until, print: (text) => printed.push(text) });
    await expect.poll(() => printed.length, { timeout: 10_000 }).toBe(1);
    const url = /http:\/\/127\.0\.0\.1:\d+\/consoles\/dashboard\.html/.exec(printed[0]!)![0];
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Platform dashboard</title>");
    stop();
    expect(await running).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("listens on --local-port when given", async () => {
    const remotePort = await prometheus(200);
    const localPort = await freePort();
    const printed: string[] = [];
    expect(
      await dashboard(target, { remotePort, localPort, until: Promise.resolve(), print: (t) => printed.push(t) }),
    ).toBe(0);
    expect(printed[0]).toContain(`http://127.0.0.1:${localPort}/consoles/dashboard.html`);
  });

  it("refuses a taken --local-port, saying so", async () => {
    const remotePort = await prometheus(200);
    const taken = await prometheus(200);
    await expect(dashboard(target, { remotePort, localPort: taken, until: Promise.resolve() })).rejects.toThrow(
      new RegExp(`^port ${taken} on this machine is taken by another program`),
    );
  });

  it("says Prometheus cannot be reached on the host when nothing answers there, before printing anything", async () => {
    const printed: string[] = [];
    const closed = await freePort();
    await expect(
      dashboard(target, { remotePort: closed, until: Promise.resolve(), print: (t) => printed.push(t) }),
    ).rejects.toThrow(
      new RegExp(
        `^Prometheus on the test host \\(127\\.0\\.0\\.1:${closed} there\\) could not be reached: .*ECONNREFUSED.*npm run ops -- status`,
      ),
    );
    expect(printed).toEqual([]);
  });

  it("says the dashboard is not installed when Prometheus answers without it", async () => {
    const remotePort = await prometheus(404);
    await expect(dashboard(target, { remotePort, until: Promise.resolve() })).rejects.toThrow(
      /answered HTTP 404 for \/consoles\/dashboard\.html: the dashboard is not installed there yet; .*npm run up/,
    );
  });
});
