// The dashboard's file (templates/host/monitoring/dashboard.html) as
// Prometheus and an operator's browser take it: nothing in it that Go's
// template engine would run (Prometheus renders every console as a
// template), nothing fetched from outside the host, and every metric its
// panels ask for is one the platform exports: the API's
// (app/src/observability/metrics.ts), the host's textfile metrics, or the
// exporters'. That the queries return data and the page shows it:
// test/templates/dashboard-browser.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTemplates, TEMPLATES_DIR } from "../../infra/host/templates.js";
import { ROOT } from "../../scripts/project-root.js";

const page = loadTemplates().monitoring["dashboard.html"];

interface Panel {
  id: string;
  title: string;
  unit: string;
  series: Array<{ label?: string; query: string }>;
  check?: { query: string; ok: string; bad: string };
}

/** The panel list, the JSON block the page itself reads. */
function panelsOf(html: string): Panel[] {
  const block = /<script type="application\/json" id="panel-list">([\s\S]*?)<\/script>/.exec(html);
  if (!block) throw new Error("dashboard.html has no panel-list block");
  return JSON.parse(block[1]!) as Panel[];
}

/** The metric names in a PromQL expression: label matchers, `by (...)` and functions left out. */
const FUNCTIONS = new Set(["sum", "max", "min", "rate", "or", "vector", "time", "histogram_quantile", "by"]);
function metricNames(promql: string): string[] {
  const bare = promql
    .replace(/\{[^}]*\}/g, "")
    .replace(/by \([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  return [...bare.matchAll(/[a-z_][a-z0-9_]*/g)].map((m) => m[0]).filter((name) => !FUNCTIONS.has(name));
}

/** What the platform exports, read from where each is made. */
function exported(): Set<string> {
  const api = readFileSync(join(ROOT, "app/src/observability/metrics.ts"), "utf8");
  const textfile = [
    readFileSync(join(TEMPLATES_DIR, "host/monitoring/textfile-metrics.sh"), "utf8"),
    readFileSync(join(TEMPLATES_DIR, "host/backup/run.sh"), "utf8"),
  ].join("\n");
  const names = new Set<string>();
  for (const [, name] of api.matchAll(/name: "([a-z_]+)"/g)) {
    // A histogram's series, as Prometheus stores them.
    for (const suffix of ["", "_bucket", "_count", "_sum"]) names.add(name! + suffix);
  }
  for (const [, name] of textfile.matchAll(/(platform_[a-z_]+)/g)) names.add(name!);
  // node_exporter 1.5's filesystem collector, and Caddy's request histogram
  // (its `servers { metrics }`, templates/host/caddy/Caddyfile); docs/host.md lists both jobs.
  for (const name of [
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "caddy_http_request_duration_seconds_count",
  ])
    names.add(name);
  return names;
}

describe("the dashboard's file", () => {
  it("holds no double opening brace: Prometheus would take it for a template action", () => {
    expect(page).not.toContain("{" + "{");
  });

  it("loads nothing from outside the host: no external script, style, image or address", () => {
    expect(page).not.toMatch(/<(link|img|iframe)\b/i);
    expect(page).not.toMatch(/<script[^>]*\bsrc=/i);
    expect(page).not.toMatch(/@import|url\(/i);
    // The SVG namespace is a name, never fetched; no other absolute address.
    expect(page.replaceAll("http://www.w3.org/2000/svg", "")).not.toMatch(/https?:\/\/|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
    // Its API calls are relative, so they go to the Prometheus that served it, under any prefix.
    expect(page).toContain('fetch("../api/v1/" + path');
  });

  it("has the panels issue #18 asks for, each in a unit the page formats", () => {
    const panels = panelsOf(page);
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
      expect(panel.series.length, panel.id).toBeGreaterThan(0);
      // format() has a branch for each unit but "count", its default.
      if (panel.unit !== "count") expect(page, panel.id).toContain(`unit === "${panel.unit}"`);
    }
    expect(panels.find((p) => p.id === "ttft")!.series.map((s) => s.label)).toEqual(["p50", "p99"]);
  });

  it("asks only for metrics the platform exports, by their exact names", () => {
    const known = exported();
    const asked = panelsOf(page).flatMap((p) => [...p.series.map((s) => s.query), ...(p.check ? [p.check.query] : [])]);
    const names = [...new Set(asked.flatMap(metricNames))];
    expect(names.length).toBeGreaterThanOrEqual(10);
    expect(names.filter((name) => !known.has(name))).toEqual([]);
  });

  it("would catch a misspelt metric (the check itself)", () => {
    const misspelt = page.replace("chat_active_streams", "chat_streams_active");
    const names = panelsOf(misspelt).flatMap((p) => p.series.flatMap((s) => metricNames(s.query)));
    expect(names.filter((name) => !exported().has(name))).toEqual(["chat_streams_active"]);
  });
});
