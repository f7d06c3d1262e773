// One Node.js major everywhere: the suite itself, the toolkit's `engines`,
// `.nvmrc` and CI, the Node the set-up fetches for the suite and the local
// images, and the image production runs the API in. A machine whose `node`
// is another major (Node 20 here) still runs all of it on Node 24:
// scripts/setup/fetch-node.sh fetches the official build once.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const MAJOR = read(".nvmrc").trim();
const scratch = scratchDir("node-version");
afterAll(() => scratch.remove());

const npmDir = dirname(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());

/** What scripts/setup/fetch-node.sh prints with `node` on PATH being the one in `nodeDir`. */
function fetchNode(nodeDir: string): { code: number | null; dir: string; stderr: string } {
  const run = spawnSync("bash", [join(ROOT, "scripts/setup/fetch-node.sh")], {
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${nodeDir}:${npmDir}:/usr/bin:/bin`,
    },
  });
  return { code: run.status, dir: run.stdout.trim(), stderr: run.stderr };
}

describe(`Node ${MAJOR} everywhere`, () => {
  it(`.nvmrc names one major, Node ${MAJOR}, the one the set-up pins`, () => {
    expect(MAJOR).toMatch(/^\d+$/);
    const pinned = execFileSync("bash", ["-c", 'source scripts/setup/needs.sh; echo "$node_version"'], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    expect(pinned.split(".")[0]).toBe(MAJOR);
  });

  it(`the suite runs on Node ${MAJOR} (npm test puts it first on PATH, whatever node npm runs on)`, () => {
    expect(process.versions.node.split(".")[0], `this suite runs on ${process.execPath}; run it with npm test`).toBe(
      MAJOR,
    );
  });

  it(`the toolkit's engines admit Node ${MAJOR} and refuse Node 20, which reached its end of life`, () => {
    const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
    const lockRoot = (JSON.parse(read("package-lock.json")) as { packages: Record<string, { engines?: unknown }> })
      .packages[""]!.engines;
    expect(lockRoot).toEqual({ node: engines });
    const minimum = /^>=(\d+)$/.exec(engines);
    expect(minimum, engines).not.toBeNull();
    expect(Number(minimum![1])).toBeGreaterThan(20);
    expect(Number(minimum![1])).toBeLessThanOrEqual(Number(MAJOR));
  });

  it("every CI job sets up the Node .nvmrc names", () => {
    const workflow = parse(read(".github/workflows/ci.yml")) as {
      jobs: Record<string, { steps?: Array<{ uses?: string; with?: Record<string, unknown> }> }>;
    };
    const setups = Object.values(workflow.jobs).flatMap((job) =>
      (job.steps ?? []).filter((step) => step.uses?.startsWith("actions/setup-node@")),
    );
    expect(setups.length).toBeGreaterThan(0);
    for (const step of setups) expect(step.with).toMatchObject({ "node-version-file": ".nvmrc" });
  });

  it(`production's API image is node:${MAJOR}-bookworm-slim by digest, the same in the stack file and compose's default`, () => {
    const stack = parse(read("Pulumi.prod.yaml")) as { config: Record<string, string> };
    const image = stack.config["conversational-platform:apiImage"]!;
    expect(image).toMatch(new RegExp(`^node:${MAJOR}-bookworm-slim@sha256:[a-f0-9]{64}$`));
    const defaults = [...read("templates/stack/docker-compose.prod.yml").matchAll(/\$\{API_IMAGE:-([^}]+)\}/g)];
    expect(defaults.length).toBeGreaterThan(0);
    for (const [, fallback] of defaults) expect(fallback).toBe(image);
  });
});

describe("scripts/setup/fetch-node.sh", () => {
  let pinned = "";

  it(`with another major on PATH, gives the pinned Node ${MAJOR} from the cache (fetched once)`, () => {
    // A node that says it is 20, as this machine's does.
    const old = join(scratch.path, "node20");
    mkdirSync(old);
    writeFileSync(
      join(old, "node"),
      `#!/bin/sh\n[ "$1" = -v ] && echo v20.20.2 && exit 0\nexec "${process.execPath}" "$@"\n`,
    );
    chmodSync(join(old, "node"), 0o755);
    const result = fetchNode(old);
    expect(result.code, result.stderr).toBe(0);
    expect(result.dir).toMatch(/\/node\/\d+\.\d+\.\d+\/bin$/);
    expect(execFileSync(join(result.dir, "node"), ["-v"], { encoding: "utf8" })).toMatch(new RegExp(`^v${MAJOR}\\.`));
    pinned = result.dir;
  });

  it(`runs a command on Node ${MAJOR} with scripts/setup/with-node.sh, as npm run bench does`, () => {
    const run = spawnSync("bash", [join(ROOT, "scripts/setup/with-node.sh"), "node", "-p", "process.version"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(scratch.path, "node20")}:${npmDir}:/usr/bin:/bin` },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(execFileSync(join(pinned, "node"), ["-v"], { encoding: "utf8" }).trim());
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts.bench).toMatch(/^bash scripts\/setup\/with-node\.sh /);
  });

  it(`keeps a node on PATH that is Node ${MAJOR}`, () => {
    const current = join(scratch.path, "node-current");
    mkdirSync(current);
    symlinkSync(join(pinned, "node"), join(current, "node"));
    expect(fetchNode(current)).toMatchObject({ code: 0, dir: current });
  });
});
