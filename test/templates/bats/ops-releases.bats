#!/usr/bin/env bats
# `ops releases` (and the list `rollback` chooses from) on the host
# (templates/host/ops/releases.sh): the release in service, the installed
# releases newest first by install time (a folder without a bundle and an
# upload still arriving left out), and the audit log's last 100 lines; on a
# host with none of these, empty sections and no error.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  export APP_DIR="$BATS_TEST_TMPDIR/app"
  mkdir -p "$APP_DIR/releases"
}

# bundle_at ID WHEN: a release whose bundle was installed at WHEN (UTC).
bundle_at() {
  mkdir -p "$APP_DIR/releases/$1"
  echo "bundle $1" >"$APP_DIR/releases/$1/api.cjs"
  touch -d "$2" "$APP_DIR/releases/$1/api.cjs"
}

@test "the release in service, the releases newest first by install time, the audit log's last 100 lines" {
  # Installed in another order than their names sort in.
  bundle_at 0000000000c1 "2026-12-05T10:00:00Z"
  bundle_at 0000000000a1 "2026-12-07T09:30:00Z"
  bundle_at 0000000000b1 "2026-12-06T08:00:00Z"
  mkdir "$APP_DIR/releases/0000000000d1"
  echo partial >"$APP_DIR/releases/upload-0000000000e1.cjs"
  echo 0000000000a1 >"$APP_DIR/current-release"
  for i in $(seq 1 120); do printf '2026-12-07T00:00:00Z\tci\tdeploy\tline %s\n' "$i"; done >"$APP_DIR/audit.log"
  run_ops releases
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 107 ]
  [ "$(head -n 6 <<<"$output")" = "== current
0000000000a1
== releases
0000000000a1	2026-12-07T09:30:00Z
0000000000b1	2026-12-06T08:00:00Z
0000000000c1	2026-12-05T10:00:00Z" ]
  [ "${lines[6]}" = "== audit" ]
  [ "${lines[7]}" = "2026-12-07T00:00:00Z	ci	deploy	line 21" ]
  [ "${lines[-1]}" = "2026-12-07T00:00:00Z	ci	deploy	line 120" ]
}

@test "a host with no release, none installed and no audit log: the sections empty, no error" {
  run_ops releases
  [ "$status" -eq 0 ]
  [ "$output" = "== current
== releases
== audit" ]
}
