// The host's monitoring files, rendered as the monitoring step renders them,
// checked by the tools of the Debian packages that run them (promtool,
// amtool, the blackbox exporter, systemd-analyze), with a broken copy of
// each that the same tool must refuse.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderTemplate } from "../../infra/host/render.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { DEFAULT_INTERVALS, renderPrometheusConfig } from "../../infra/monitoring/prometheus-config.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const templates = loadTemplates().monitoring;
const dir = scratchDir("monitoring-templates");
afterAll(() => dir.remove());
let counter = 0;
function file(name: string, content: string): string {
  const folder = join(dir.path, String(counter++));
  mkdirSync(folder);
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

interface Result {
  ok: boolean;
  output: string;
}
async function run(command: string, args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}
function expectBoth(good: Result, bad: Result, badMessage: RegExp) {
  expect(good.ok, good.output).toBe(true);
  expect(bad.ok, bad.output).toBe(false);
  expect(bad.output).toMatch(badMessage);
}

const rendered = (overrides: Partial<Parameters<typeof renderPrometheusConfig>[1]> = {}) =>
  renderPrometheusConfig(templates["prometheus.yml"], {
    apiHost: "api.example.com",
    tlsIssuer: "letsencrypt",
    ...overrides,
  });

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  params?: { module: string[] };
  static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
  relabel_configs?: Array<Record<string, unknown>>;
}
interface PrometheusYml {
  global: Record<string, string>;
  rule_files: string[];
  alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
  scrape_configs: ScrapeConfig[];
}

describe("prometheus.yml (renderPrometheusConfig, promtool check config)", () => {
  it("passes promtool, and a copy with a bad scrape interval does not", async () => {
    const text = rendered();
    expectBoth(
      await run("promtool", ["check", "config", file("prometheus.yml", text)]),
      await run("promtool", [
        "check",
        "config",
        file("prometheus.yml", text.replace("scrape_interval: 15s", "scrape_interval: 15")),
      ]),
      /not a valid duration string/,
    );
  });

  it("passes promtool with shortened intervals too", async () => {
    const text = rendered({ intervals: { scrape: "1s", evaluation: "1s", timeout: "900ms" } });
    const result = await run("promtool", ["check", "config", file("prometheus.yml", text)]);
    expect(result.ok, result.output).toBe(true);
    expect((parse(text) as PrometheusYml).global).toEqual({
      scrape_interval: "1s",
      evaluation_interval: "1s",
      scrape_timeout: "900ms",
    });
  });

  it("scrapes the seven jobs, each on the host's loopback but the site's certificate", () => {
    const config = parse(rendered()) as PrometheusYml;
    expect(config.global).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", scrape_timeout: "10s" });
    const jobs = Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, job]));
    expect(Object.keys(jobs)).toEqual(["node", "api", "caddy", "nats", "certificate", "prometheus", "alertmanager"]);
    const targets = (name: string) => jobs[name]!.static_configs.flatMap((s) => s.targets);
    expect(targets("node")).toEqual(["127.0.0.1:9100"]);
    expect(targets("api")).toEqual(["127.0.0.1:8081", "127.0.0.1:8082"]);
    expect(jobs.api!.static_configs.map((s) => s.labels?.instance)).toEqual(["api-1", "api-2"]);
    expect(targets("caddy")).toEqual(["127.0.0.1:2019"]);
    expect(targets("nats")).toEqual(["127.0.0.1:4222"]);
    expect(targets("certificate")).toEqual(["api.example.com:443"]);
    expect(targets("prometheus")).toEqual(["127.0.0.1:9090"]);
    expect(targets("alertmanager")).toEqual(["127.0.0.1:9093"]);
    // The two probes go through the blackbox exporter, with the modules of blackbox.yml.
    const modules = Object.keys((parse(templates["blackbox.yml"]) as { modules: object }).modules);
    for (const name of ["nats", "certificate"]) {
      expect(jobs[name]!.metrics_path).toBe("/probe");
      expect(modules).toContain(jobs[name]!.params!.module[0]);
      expect(jobs[name]!.relabel_configs).toContainEqual({
        target_label: "__address__",
        replacement: "127.0.0.1:9115",
      });
    }
    expect(jobs.nats!.params!.module).toEqual(["nats_greeting"]);
    expect(jobs.certificate!.params!.module).toEqual(["tls_certificate"]);
    expect(config.rule_files).toEqual(["/etc/prometheus/rules/*.yml"]);
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(["127.0.0.1:9093"]);
  });

  it("checks the site's certificate without its chain only for Caddy's internal CA", () => {
    const jobs = (parse(rendered({ tlsIssuer: "internal" })) as PrometheusYml).scrape_configs;
    expect(jobs.find((j) => j.job_name === "certificate")!.params!.module).toEqual(["tls_certificate_internal"]);
  });

  it("refuses intervals Prometheus would refuse, and a host name that is not one", () => {
    expect(() => rendered({ intervals: { ...DEFAULT_INTERVALS, scrape: "15" } })).toThrow(
      /the scrape interval "15" is not a duration/,
    );
    expect(() => rendered({ intervals: { scrape: "5s", evaluation: "5s", timeout: "10s" } })).toThrow(
      /the scrape timeout 10s is longer than the interval 5s/,
    );
    expect(() => rendered({ apiHost: "api.example.com\nscrape_configs: []" })).toThrow(/is not a host name/);
  });

  it("loads the rule files promtool is given, and refuses a broken one", async () => {
    // The alert rules land in /etc/prometheus/rules on the host; here in a folder of the test's own.
    const rules = join(dir.path, "rules");
    mkdirSync(rules);
    writeFileSync(
      join(rules, "good.yml"),
      "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: vector(1)\n",
    );
    const text = rendered().replace("/etc/prometheus/rules/*.yml", `${rules}/*.yml`);
    const good = await run("promtool", ["check", "config", file("prometheus.yml", text)]);
    writeFileSync(
      join(rules, "bad.yml"),
      "groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1\n",
    );
    expectBoth(good, await run("promtool", ["check", "config", file("prometheus.yml", text)]), /bad\.yml/);
  });
});

describe("blackbox.yml (prometheus-blackbox-exporter --config.check)", () => {
  it("validates, and a copy with a broken expectation does not", async () => {
    const check = (text: string) =>
      run("prometheus-blackbox-exporter", ["--config.check", `--config.file=${file("blackbox.yml", text)}`]);
    expectBoth(
      await check(templates["blackbox.yml"]),
      await check(templates["blackbox.yml"].replace('"^INFO "', '"^INFO ("')),
      /Could not compile regular expression/,
    );
  });
});

describe("the placeholder alertmanager.yml (amtool check-config)", () => {
  it("validates, and a copy whose route names no receiver does not", async () => {
    const text = templates["alertmanager.yml"];
    expectBoth(
      await run("amtool", ["check-config", file("alertmanager.yml", text)]),
      await run("amtool", [
        "check-config",
        file("alertmanager.yml", text.replace("receiver: nowhere", "receiver: team")),
      ]),
      /undefined receiver "team"/,
    );
  });
});

describe("the services' drop-ins", () => {
  const dropIns = {
    "prometheus.conf": renderTemplate("host/monitoring/prometheus.conf", templates["prometheus.conf"], {
      RETENTION: "15d",
      RETENTION_SIZE: "1GB",
    }),
    "alertmanager.conf": templates["alertmanager.conf"],
    "node-exporter.conf": templates["node-exporter.conf"],
    "blackbox-exporter.conf": templates["blackbox-exporter.conf"],
  };

  it.each(Object.entries(dropIns))("%s: listens on loopback only, bounded in memory and CPU", (_name, text) => {
    // The command line replaces the package's, which reads /etc/default/*.
    expect(text).toMatch(/^ExecStart=\nExecStart=\/usr\/bin\//m);
    const listen = [...text.matchAll(/--(?:web|cluster)\.listen-address=(\S*)/g)].map((m) => m[1]);
    expect(listen.length).toBeGreaterThan(0);
    for (const address of listen) expect(address).toMatch(/^(127\.0\.0\.1:\d+)?$/);
    expect(text).toMatch(/^MemoryMax=\d+M$/m);
    expect(text).toMatch(/^CPUQuota=\d+%$/m);
    expect(text).toMatch(/^OOMScoreAdjust=500$/m);
  });

  it("keep Alertmanager's cluster port closed, and node_exporter reading the textfile folder", () => {
    expect(dropIns["alertmanager.conf"]).toMatch(/--cluster\.listen-address= *$/m);
    expect(dropIns["node-exporter.conf"]).toContain("--collector.textfile.directory=/var/lib/prometheus/node-exporter");
  });

  it("take each flag as the installed binaries know it (--help lists it)", async () => {
    const binaries: Record<string, string> = {
      "prometheus.conf": "prometheus",
      "alertmanager.conf": "prometheus-alertmanager",
      "node-exporter.conf": "prometheus-node-exporter",
      "blackbox-exporter.conf": "prometheus-blackbox-exporter",
    };
    for (const [name, text] of Object.entries(dropIns)) {
      const help = await run(binaries[name]!, ["--help"]);
      for (const flag of text.matchAll(/(--[a-z.-]+)=/g)) expect(help.output, `${name}: ${flag[1]}`).toContain(flag[1]);
    }
  });
});

describe("the textfile metrics' timer (systemd-analyze verify)", () => {
  it("loads without a complaint, and a broken copy is complained about", async () => {
    const folder = join(dir.path, "units");
    mkdirSync(folder);
    // Its command must exist to be verified; a copy of the script stands in for the installed one.
    const script = join(folder, "platform-textfile-metrics");
    writeFileSync(script, templates["textfile-metrics.sh"]);
    chmodSync(script, 0o755);
    const verify = async (service: string) => {
      writeFileSync(
        join(folder, "platform-textfile-metrics.service"),
        service.replace("/usr/local/sbin/platform-textfile-metrics", script),
      );
      writeFileSync(join(folder, "platform-textfile-metrics.timer"), templates["platform-textfile-metrics.timer"]);
      const result = await run("systemd-analyze", [
        "verify",
        "--man=no",
        join(folder, "platform-textfile-metrics.timer"),
      ]);
      return { ok: !result.output.includes("platform-textfile-metrics"), output: result.output };
    };
    const service = templates["platform-textfile-metrics.service"];
    expectBoth(
      await verify(service),
      await verify(service.replace("Type=oneshot", "Type=oneshott")),
      /Failed to parse service type/,
    );
  });
});
