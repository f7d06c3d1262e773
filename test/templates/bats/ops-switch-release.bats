#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # stub bodies expand when the stub runs; each test exports its own settings
# `ops deploy` and `rollback` on the host (templates/host/ops/switch-release.sh),
# with docker stubbed: which release ends up in service, what Docker Compose
# is asked word for word, and what the audit log says, for each way a switch
# can go (not on the host, nothing in service, already in service, healthy,
# put back, neither healthy, another deploy running).

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  ops_host
  for id in 0000000000a1 0000000000b1; do
    mkdir -p "$APP_DIR/releases/$id"
    echo "bundle $id" >"$APP_DIR/releases/$id/api.cjs"
  done
  # An API instance started on a release listed in $UNHEALTHY never becomes
  # healthy; each start records the release it was on.
  stub docker '
case "$*" in *" up -d "*)
  echo "  on $API_RELEASE" >>"$CALLS"
  case " $UNHEALTHY " in *" ${API_RELEASE#releases/} "*) exit 1 ;; esac ;;
esac'
}

teardown() { free_deploy_lock; }

# switch ACTION RELEASE_ID: the command as ops deploy or rollback runs it.
switch() { run_ops switch-release ACTION="$1" RELEASE_ID="$2"; }

@test "a healthy release: each API instance in turn on it, audited as old -> new" {
  switch deploy 0000000000b1
  [ "$status" -eq 0 ]
  [ "$output" = "deploy: release 0000000000b1 is in service (it was 0000000000a1)" ]
  [ "$(cat "$APP_DIR/current-release")" = 0000000000b1 ]
  [ "$(calls)" = "$compose up -d --no-deps --wait --wait-timeout 120 api-1
  on releases/0000000000b1
$compose up -d --no-deps --wait --wait-timeout 120 api-2
  on releases/0000000000b1" ]
  [ "$(audited)" = "ops	deploy	0000000000a1 -> 0000000000b1" ]
  # It held the deploy lock while it switched.
  [ "$(cut -d' ' -f1 "$APP_DIR/.deploy.lock.holder")" = ops ]
}

@test "a release that is not healthy: the previous one back the same way, its instances' logs shown, the command fails" {
  export UNHEALTHY=0000000000b1
  switch rollback 0000000000b1
  [ "$status" -eq 1 ]
  [ "$output" = "rollback: release 0000000000b1 did not become healthy; putting 0000000000a1 back
rollback: ERROR: release 0000000000b1 did not become healthy; 0000000000a1 is in service again" ]
  [ "$(cat "$APP_DIR/current-release")" = 0000000000a1 ]
  [ "$(calls)" = "$compose up -d --no-deps --wait --wait-timeout 120 api-1
  on releases/0000000000b1
$compose logs --no-color --tail 40 api-1 api-2
$compose up -d --no-deps --wait --wait-timeout 120 api-1
  on releases/0000000000a1
$compose up -d --no-deps --wait --wait-timeout 120 api-2
  on releases/0000000000a1" ]
  [ "$(audited)" = "ops	rollback-failed	0000000000a1 -> 0000000000b1: not healthy, 0000000000a1 back in service" ]
}

@test "neither release healthy: both tried, audited as such, the command says what to look at" {
  export UNHEALTHY="0000000000a1 0000000000b1"
  switch deploy 0000000000b1
  [ "$status" -eq 1 ]
  [ "${lines[-1]}" = "deploy: ERROR: neither release 0000000000b1 nor 0000000000a1 became healthy: npm run ops -- status, and logs api" ]
  [ "$(cat "$APP_DIR/current-release")" = 0000000000a1 ]
  [ "$(grep -c ' up -d ' "$CALLS")" -eq 2 ]
  [ "$(audited)" = "ops	deploy-failed	0000000000a1 -> 0000000000b1: not healthy, and 0000000000a1 not healthy either" ]
}

@test "the release already in service: nothing restarted, nothing audited" {
  switch rollback 0000000000a1
  [ "$status" -eq 0 ]
  [ "$output" = "rollback: release 0000000000a1 is already in service" ]
  [ "$(calls)" = "" ]
  [ ! -e "$APP_DIR/audit.log" ]
}

# refused ACTION RELEASE_ID MESSAGE: the switch stops with MESSAGE before
# Docker is asked anything, the release in service as it was.
refused() {
  local before
  before=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  switch "$1" "$2"
  [ "$status" -eq 1 ] || return 1
  [ "$output" = "$1: ERROR: $3" ] || return 1
  [ "$(calls)" = "" ] || return 1
  [ "$(cat "$APP_DIR/current-release" 2>/dev/null || true)" = "$before" ]
}

@test "a release not on this host stops before anything changes, naming the command that lists them" {
  refused rollback 0000000000c1 "release 0000000000c1 is not on this host (npm run ops -- releases lists those that are)"
}

@test "no release in service yet: the first deploy is pulumi up's" {
  rm "$APP_DIR/current-release"
  refused deploy 0000000000b1 "no release is in service yet: the first deploy is pulumi up's"
}

@test "another deploy holding the lock: stops at once, saying who, changing nothing" {
  hold_deploy_lock "ci since 2026-12-07T01:00:00Z"
  refused deploy 0000000000b1 "another deploy is running here (ci since 2026-12-07T01:00:00Z); try again when it ends"
}
