// The benchmark is not a timed test: this only checks that its quick mode
// runs the whole platform and writes well-formed results.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { problemsWith, REQUIRED_NUMBERS } from "../../bench/stats.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");

describe("npm run bench -- --quick", () => {
  const dir = scratchDir("bench");
  afterAll(() => dir.remove());

  it("measures every path and writes its figures, the machine and the baselines as JSON", () => {
    const out = join(dir.path, "results.json");
    // As a person runs it: npm's script, on the suite's Node whatever node npm runs on.
    const run = spawnSync("npm", ["run", "-s", "bench", "--", "--quick", "--json", out], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 300_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(readFileSync(out, "utf8"));
    expect(problemsWith(results)).toEqual([]);
    // Every headline figure is in the table a person reads.
    for (const key of REQUIRED_NUMBERS) expect(run.stdout).toContain(key);
    expect(results.baselines.direct.relay.tokens).toBeGreaterThan(0);
    expect(results.baselines.proxy.relay.tokens).toBeGreaterThan(0);
    expect(results.full.relay.tokens).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
  }, 360_000);
});
