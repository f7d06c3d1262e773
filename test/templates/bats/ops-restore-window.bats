#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # stub bodies expand when the stub runs; each test exports its own settings
# The restore window of `ops restore` and `purge` on the host
# (templates/host/ops/restore-window.sh), with docker stubbed: the API
# instances stopped, the outcome read from the operator's machine (or its
# connection closing) audited, the instances back one at a time, all of it
# in restore-window.log; an instance that does not come back, and a deploy
# holding the lock.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  ops_host
  stub_instances
}

teardown() { free_deploy_lock; }

# window ACTION INPUT: the command as ops restore or purge holds it, INPUT
# on its standard input (empty: the connection closes at once).
window() {
  printf '%s' "$2" >"$BATS_TEST_TMPDIR/input"
  run_ops restore-window ACTION="$1" DETAIL="backup-20261207T010000Z" <"$BATS_TEST_TMPDIR/input"
}

@test "a restore: the instances stopped, the outcome audited, then each instance back in turn, all in the log" {
  window restore $'restored 3 streams\n'
  [ "$status" -eq 0 ]
  [ "$output" = "restore: stopping the API instances
== stopped
restore: restore: restored 3 streams; starting the API instances again" ]
  [ "$(calls)" = "$compose stop api-1 api-2
$compose up -d --no-deps --wait --wait-timeout 120 api-1
$compose up -d --no-deps --wait --wait-timeout 120 api-2" ]
  [ "$(audited)" = "ops	restore	backup-20261207T010000Z: restored 3 streams" ]
  [ "$(cat "$APP_DIR/restore-window.log")" = "$output" ]
  [ "$(cut -d' ' -f1 "$APP_DIR/.deploy.lock.holder")" = ops ]
}

@test "the operator's connection closing before the outcome: audited as interrupted, the instances back all the same" {
  window purge ""
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "purge: purge: interrupted: the operator's connection closed; starting the API instances again" ]
  [ "$(audited)" = "ops	purge	backup-20261207T010000Z: interrupted: the operator's connection closed" ]
  [ "$(grep -c ' up -d ' "$CALLS")" -eq 2 ]
}

@test "an instance that does not come back: the command fails, naming what to look at" {
  export UNHEALTHY=api-2
  window restore $'restored 3 streams\n'
  [ "$status" -eq 1 ]
  [ "${lines[-1]}" = "restore: ERROR: the API instances did not come back healthy: npm run ops -- status, then logs api" ]
  [ "$(calls)" = "$compose stop api-1 api-2
$compose up -d --no-deps --wait --wait-timeout 120 api-1
$compose up -d --no-deps --wait --wait-timeout 120 api-2" ]
  [ "$(audited)" = "ops	restore	backup-20261207T010000Z: restored 3 streams" ]
  [ "$(tail -n 1 "$APP_DIR/restore-window.log")" = "${lines[-1]}" ]
}

@test "a deploy holding the lock: stops at once, saying who, nothing stopped" {
  hold_deploy_lock "ci since 2026-12-07T01:00:00Z"
  window restore $'restored\n'
  [ "$status" -eq 1 ]
  [ "$output" = "restore: ERROR: another deploy is running here (ci since 2026-12-07T01:00:00Z); try again when it ends" ]
  [ "$(calls)" = "" ]
}

@test "the operator's channel closing mid-window: nothing it says can stop it, the instances come back, the log keeps it all" {
  printf 'restored 3 streams\n' >"$BATS_TEST_TMPDIR/input"
  # A channel whose reading end is gone: every write to it fails (EPIPE).
  # Opened read-write first, so opening its write end does not wait for a reader.
  mkfifo "$BATS_TEST_TMPDIR/channel"
  # shellcheck disable=SC2094 # one fifo, both ends on purpose
  exec 4<>"$BATS_TEST_TMPDIR/channel" 5>"$BATS_TEST_TMPDIR/channel" 4<&-
  local code=0
  env PLATFORM_STAGE="$(stage)" APP_DIR="$APP_DIR" ACTOR=ops ACTION=restore DETAIL=backup-20261207T010000Z \
    bash "$BATS_TEST_DIRNAME/../../../templates/host/ops/restore-window.sh" <"$BATS_TEST_TMPDIR/input" >&5 2>&5 || code=$?
  exec 5>&-
  [ "$code" -eq 0 ]
  [ "$(grep -c ' up -d ' "$CALLS")" -eq 2 ]
  [ "$(audited)" = "ops	restore	backup-20261207T010000Z: restored 3 streams" ]
  [ "$(tail -n 1 "$APP_DIR/restore-window.log")" = "restore: restore: restored 3 streams; starting the API instances again" ]
}
