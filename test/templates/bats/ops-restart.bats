#!/usr/bin/env bats
# shellcheck disable=SC2016 # stub bodies expand when the stub runs
# `ops restart api|nats|caddy` on the host (templates/host/ops/restart.sh),
# with docker and systemctl stubbed: word for word what each service's
# restart runs, that it is audited only once done, and a service it does not
# know or a deploy holding the lock.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  ops_host
  stub_instances
  stub systemctl
}

teardown() { free_deploy_lock; }

restart() { run_ops restart SERVICE="$1"; }

@test "restart api: each instance recreated in turn, healthy before the next, then audited" {
  restart api
  [ "$status" -eq 0 ]
  [ "$output" = "restart: api restarted" ]
  [ "$(calls)" = "$compose up -d --no-deps --wait --wait-timeout 120 --force-recreate api-1
$compose up -d --no-deps --wait --wait-timeout 120 --force-recreate api-2" ]
  [ "$(audited)" = "ops	restart	api" ]
}

@test "restart api: an instance that does not come back stops there, api-2 untouched, nothing audited" {
  UNHEALTHY=api-1 restart api
  [ "$status" -eq 1 ]
  [ "$(calls)" = "$compose up -d --no-deps --wait --wait-timeout 120 --force-recreate api-1" ]
  [ ! -e "$APP_DIR/audit.log" ]
}

@test "restart nats: the container restarted, then waited for until healthy" {
  restart nats
  [ "$status" -eq 0 ]
  [ "$(calls)" = "$compose restart nats
$compose up -d --wait --wait-timeout 120 nats" ]
  [ "$(audited)" = "ops	restart	nats" ]
}

@test "restart caddy: a reload, which keeps open streams" {
  restart caddy
  [ "$status" -eq 0 ]
  [ "$(calls)" = "systemctl reload caddy" ]
  [ "$(audited)" = "ops	restart	caddy" ]
}

@test "a service it does not know: stopped, naming the three it does" {
  restart redis
  [ "$status" -eq 1 ]
  [ "$output" = "restart: ERROR: no service redis: restart api, nats or caddy" ]
  [ "$(calls)" = "" ]
  [ ! -e "$APP_DIR/audit.log" ]
}

@test "a deploy holding the lock: stops at once, saying who, restarting nothing" {
  hold_deploy_lock "ci since 2026-12-07T01:00:00Z"
  restart api
  [ "$status" -eq 1 ]
  [ "$output" = "restart: ERROR: another deploy is running here (ci since 2026-12-07T01:00:00Z); try again when it ends" ]
  [ "$(calls)" = "" ]
}
