#!/usr/bin/env bash
# The whole test suite (`npm test`): the fast tests first, then the system
# tests (Docker engine, systemd test host) one at a time. Prints one closing
# line, "N passed, N failed", and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p .tmp
status=0
# The suite runs on Node 24 whatever node npm runs on: the node on PATH if it
# is 24, else the one scripts/setup/fetch-node.sh fetched into the cache.
node_bin=$(bash scripts/setup/fetch-node.sh) || exit 1
export PATH="$node_bin:$PATH"
echo "the suite runs on Node $(node -v) ($node_bin/node)"
# A report left by an earlier run must not stand in for a run that wrote none.
# --passWithNoTests: a filter given to `npm test --` may match files of one
# project only (the closing line still fails if nothing ran at all).
codes=()
for project in fast system; do
  rm -f ".tmp/vitest-$project.json" ".tmp/vitest-$project.log"
  # The output is kept too: an error outside the tests is quoted again in the
  # closing lines, where a CI log cut to its tail still shows it.
  npx vitest run --project "$project" --passWithNoTests --reporter=default --reporter=json --outputFile.json=".tmp/vitest-$project.json" "$@" 2>&1 | tee ".tmp/vitest-$project.log"
  code=${PIPESTATUS[0]}
  codes+=("$code")
  [ "$code" -eq 0 ] || status=1
done
# A failure outside any test counts too: vitest's JSON report gives a file
# whose beforeAll (or afterAll, or top-level code) threw the status "failed"
# while its tests are only "skipped" (or even "passed"), and numFailedTests
# leaves it out. An error thrown outside any test and hook (say by a timer)
# leaves the report all green: only vitest's exit code tells.
# shellcheck disable=SC2016 # the JavaScript is for node, not the shell
node -e '
  const fs = require("fs");
  const path = require("path");
  let passed = 0, failed = 0, skipped = 0, total = 0;
  const codes = { fast: Number(process.argv[1]), system: Number(process.argv[2]) };
  for (const p of ["fast", "system"]) {
    const file = `.tmp/vitest-${p}.json`;
    if (!fs.existsSync(file)) {
      console.log(`FAILED ${p}: vitest wrote no report (${file})`);
      failed++;
      continue;
    }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    total += r.numTotalTests;
    let outside = 0;
    for (const f of r.testResults) {
      if (f.status !== "failed" || f.assertionResults.some((a) => a.status === "failed")) continue;
      // A hook inside a describe block leaves "message" empty: its error is
      // in the default reporter output above.
      const why = f.message ? f.message.split("\n")[0] : "a hook failed (see its error above)";
      console.log(`FAILED ${p}: ${path.relative(process.cwd(), f.name)}, outside its tests: ${why}`);
      outside++;
    }
    if ((codes[p] !== 0 || !r.success) && r.numFailedTests === 0 && outside === 0) {
      console.log(`FAILED ${p}: vitest exited with ${codes[p]}, for an error outside the tests:`);
      // What vitest printed of it: from its "Unhandled" banner on, colours removed.
      const log = fs.readFileSync(`.tmp/vitest-${p}.log`, "utf8").replace(/\x1b\[[0-9;]*m/g, "").split("\n");
      const from = log.findIndex((line) => /Unhandled (Rejection|Exception|Error\b)/.test(line));
      const where = log.filter((line) => line.includes("This error originated in"));
      const quoted = from < 0 ? ["(no Unhandled section in its output: see above)"] : log.slice(from, from + 6);
      for (const line of [...quoted, ...where]) console.log(`  ${p}| ${line}`);
      outside++;
    }
    failed += outside;
  }
  if (skipped > 0) console.log(`${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  if (failed > 0 || total === 0) process.exit(1);
' "${codes[@]}" || status=1
exit $status
