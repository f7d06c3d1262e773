#!/usr/bin/env bash
# The whole test suite (`npm test`): the fast tests first, then the system
# tests (Docker engine, systemd test host) one at a time. Prints one closing
# line, "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p .tmp
status=0
for project in fast system; do
  npx vitest run --project "$project" --reporter=default --reporter=json --outputFile.json=".tmp/vitest-$project.json" "$@" || status=1
done
# shellcheck disable=SC2016 # the JavaScript is for node, not the shell
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, total = 0;
  for (const p of ["fast", "system"]) {
    const file = `.tmp/vitest-${p}.json`;
    if (!fs.existsSync(file)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; total += r.numTotalTests;
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (total === 0) process.exit(1);
' || status=1
exit $status
