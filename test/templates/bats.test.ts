// The host scripts' decisions (templates/host/*.sh), tested word for word
// with stubbed commands in bats (test/templates/bats/*.bats). Each bats test
// is a test here too, so `npm test` runs and counts them; a bats test that
// is skipped, or that bats never reports, fails.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const DIR = join(import.meta.dirname, "bats");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".bats"))
  .sort();

interface TapResult {
  ok: boolean;
  /** The TAP lines bats printed for the test: the failed command and its output. */
  detail: string;
}

/** bats --tap: "ok N name", "not ok N name", each followed by "# ..." lines for a failure. */
function parseTap(tap: string): Map<string, TapResult> {
  const results = new Map<string, TapResult>();
  let current: TapResult | undefined;
  for (const line of tap.split("\n")) {
    const match = /^(not )?ok \d+ (.*?)(\s+# skip\b.*)?$/.exec(line);
    if (match) {
      current = { ok: !match[1] && !match[3], detail: line };
      results.set(match[2]!, current);
    } else if (current && line.startsWith("#")) {
      current.detail += `\n${line}`;
    }
  }
  return results;
}

/** The names of a bats file's tests, in order, as bats reports them. */
function testNames(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^@test\s+"((?:[^"\\]|\\.)*)"\s*\{/gm)].map((m) =>
    m[1]!.replace(/\\(.)/g, "$1"),
  );
}

it("finds the bats files", () => {
  expect(FILES.length).toBeGreaterThanOrEqual(2);
});

for (const name of FILES) {
  describe(`bats ${name}`, () => {
    const file = join(DIR, name);
    let results: Map<string, TapResult>;

    beforeAll(() => {
      const run = spawnSync("bats", ["--tap", file], { encoding: "utf8", timeout: 120_000 });
      if (run.error) {
        throw new Error(`bats did not run (${run.error.message}): install it with scripts/setup/prepare-for.sh test`);
      }
      results = parseTap(run.stdout);
      if (results.size === 0) throw new Error(`bats reported no test for ${name}:\n${run.stdout}\n${run.stderr}`);
    }, 150_000);

    it("passes shellcheck", () => {
      const result = spawnSync("shellcheck", ["-x", file], { encoding: "utf8", cwd: join(DIR, "../../..") });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    });

    for (const test of testNames(file)) {
      it(test, () => {
        const result = results.get(test);
        expect(result, `bats did not report "${test}"`).toBeDefined();
        expect(result!.ok, result!.detail).toBe(true);
      });
    }
  });
}
