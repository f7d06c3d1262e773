#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The shared helpers of the host scripts (templates/host/lib.sh) not
# covered by a step's own tests: rendering and installing files, reading
# an environment file, the release record, the audit log, the API instances
# one by one, and each way NATS's new config can fail to load live.

bats_require_minimum_version 1.5.0

LIB="$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  # shellcheck source=templates/host/lib.sh
  . "$LIB"
  # lib.sh turns on -u, which bats itself is not written for; -e stays.
  set +u
  use_stubs
  LOG_PREFIX=lib
  export APP_DIR="$BATS_TEST_TMPDIR/app"
  mkdir -p "$APP_DIR"
}

@test "render: fills every placeholder; a missing value or a line break stops it" {
  printf 'User={{DEPLOY_USER}}\nPort={{SSH_PORT}}\n' >"$BATS_TEST_TMPDIR/t"
  run render "$BATS_TEST_TMPDIR/t" DEPLOY_USER=deploy SSH_PORT=22
  [ "$output" = "User=deploy
Port=22" ]
  run render "$BATS_TEST_TMPDIR/t" DEPLOY_USER=deploy
  [ "$status" -eq 1 ]
  [ "$output" = "lib: ERROR: $BATS_TEST_TMPDIR/t: no value for {{SSH_PORT}}" ]
  run render "$BATS_TEST_TMPDIR/t" DEPLOY_USER=$'deploy\nAllowUsers root' SSH_PORT=22
  [ "$status" -eq 1 ]
  [ "$output" = "lib: ERROR: $BATS_TEST_TMPDIR/t: the value for DEPLOY_USER holds a line break" ]
}

@test "install_file: a new file installed (changed), the same file only given its mode and owner" {
  echo one >"$BATS_TEST_TMPDIR/src"
  changed=0
  install_file "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/etc/dest" 0640 "$(id -un):$(id -gn)" >"$BATS_TEST_TMPDIR/out"
  [ "$changed" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "lib: installed $BATS_TEST_TMPDIR/etc/dest" ]
  [ "$(cat "$BATS_TEST_TMPDIR/etc/dest")" = one ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/etc/dest")" = 640 ]
  chmod 0666 "$BATS_TEST_TMPDIR/etc/dest"
  changed=0
  run install_file "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/etc/dest" 0640 "$(id -un):$(id -gn)"
  [ "$status" -eq 1 ]
  [ "$output" = "" ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/etc/dest")" = 640 ]
}

@test "install_file: a new version its validator refuses leaves the live file as it is" {
  mkdir -p "$BATS_TEST_TMPDIR/etc"
  echo live >"$BATS_TEST_TMPDIR/etc/dest"
  echo broken >"$BATS_TEST_TMPDIR/src"
  refuse() { echo "refuse $*" >>"$CALLS"; return 1; }
  run install_file "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/etc/dest" 0644 "$(id -un):$(id -gn)" refuse --strict
  [ "$status" -eq 1 ]
  [ "$output" = "lib: ERROR: $BATS_TEST_TMPDIR/etc/dest: the new version does not validate; the live file was left as it is" ]
  [ "$(calls)" = "refuse --strict $BATS_TEST_TMPDIR/src" ]
  [ "$(cat "$BATS_TEST_TMPDIR/etc/dest")" = live ]
}

@test "load_env: the rest of the line is the value, spaces included; comments and blank lines skipped" {
  printf '# a comment\n\nACME_EMAIL=ops@example.com\nGREETING=a b=c\n' >"$BATS_TEST_TMPDIR/env"
  load_env "$BATS_TEST_TMPDIR/env"
  [ "$ACME_EMAIL" = "ops@example.com" ]
  [ "$GREETING" = "a b=c" ]
  [ "$(bash -c 'echo "$GREETING"')" = "a b=c" ]
}

@test "decode: a variable's base64 value to a file; no value stops it" {
  PAYLOAD_B64=$(printf 'line 1\nline 2' | base64 -w0)
  export PAYLOAD_B64
  decode PAYLOAD_B64 "$BATS_TEST_TMPDIR/out"
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "line 1
line 2" ]
  export EMPTY_B64=""
  run decode EMPTY_B64 "$BATS_TEST_TMPDIR/out"
  [ "$status" -ne 0 ]
}

@test "record_release: the release in service replaced whole; platform_compose runs on it, and without one says what to run" {
  run platform_compose ps
  [ "$status" -eq 1 ]
  [ "$output" = "lib: ERROR: no release is recorded in $APP_DIR/current-release: run npm run up once" ]
  record_release 0000000000a1
  [ "$(cat "$APP_DIR/current-release")" = 0000000000a1 ]
  [ "$(stat -c %a "$APP_DIR/current-release")" = 644 ]
  [ ! -e "$APP_DIR/current-release.new" ]
  stub docker 'echo "  API_RELEASE=$API_RELEASE" >>"$CALLS"'
  platform_compose ps
  [ "$(calls)" = "docker compose --project-directory $APP_DIR -f $APP_DIR/docker-compose.prod.yml ps
  API_RELEASE=releases/0000000000a1" ]
}

@test "audit: one tab-separated line per action, who and when first" {
  ACTOR=ci audit rollback "0000000000b1 -> 0000000000a1"
  ACTOR=ci audit restart
  [ "$(cut -f2- "$APP_DIR/audit.log")" = "ci	rollback	0000000000b1 -> 0000000000a1
ci	restart	" ]
  [[ $(cut -f1 "$APP_DIR/audit.log" | head -1) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
}

@test "api_one_by_one: api-2 is not touched when api-1 does not become healthy" {
  echo 0000000000a1 >"$APP_DIR/current-release"
  stub docker '[[ $* != *" api-1" ]]'
  run api_one_by_one
  [ "$status" -eq 1 ]
  [ "$(calls)" = "docker compose --project-directory $APP_DIR -f $APP_DIR/docker-compose.prod.yml up -d --no-deps --wait --wait-timeout 120 api-1" ]
}

# NATS as nats_apply_config finds it: CONF is what the container reads, LOADED
# its config_load_time (NO_MONITOR: the endpoint does not answer, NO_EXEC:
# nothing can be run in the container).
nats_here() {
  echo 0000000000a1 >"$APP_DIR/current-release"
  mkdir -p "$APP_DIR/nats"
  echo "max_payload: 2MB" >"$APP_DIR/nats/nats-server.conf"
  echo "authorization {}" >"$APP_DIR/nats/nats-auth.conf"
  stub sleep
  stub docker '
case "$*" in
  *" exec -T nats cat "*) [ -z "$NO_EXEC" ] && printf "%s\n" "$CONF" ;;
  *" exec -T nats wget "*) [ -z "$NO_MONITOR" ] && echo "{\"config_load_time\": \"T1\"}" ;;
  *" up -d --no-deps --force-recreate --wait --wait-timeout 120 nats") exit 0 ;;
esac'
  export CONF="max_payload: 2MB
authorization {}"
}

restarted() { grep -qF -- "up -d --no-deps --force-recreate --wait --wait-timeout 120 nats" "$CALLS"; }

@test "nats_apply_config: a config the container cannot read is applied by a new container" {
  nats_here
  NO_EXEC=1 run nats_apply_config "$APP_DIR/nats"
  [ "$status" -eq 0 ]
  [[ $output == "lib: restarting NATS for its new config: its config cannot be read inside the container; the API reconnects"* ]]
  restarted
}

@test "nats_apply_config: a container that sees another file (an old inode) gets a new container, not a reload" {
  nats_here
  CONF="max_payload: 1MB" run nats_apply_config "$APP_DIR/nats"
  [[ $output == "lib: restarting NATS for its new config: the container does not see the installed file; the API reconnects"* ]]
  [ "$(grep -c ' kill ' "$CALLS")" -eq 0 ]
  restarted
}

@test "nats_apply_config: a monitoring endpoint that does not answer: a new container" {
  nats_here
  NO_MONITOR=1 run nats_apply_config "$APP_DIR/nats"
  [[ $output == "lib: restarting NATS for its new config: its monitoring endpoint does not answer; the API reconnects"* ]]
  restarted
}

@test "nats_apply_config: no reload seen within 10 s (50 looks, 0.2 s apart): a new container" {
  nats_here
  run nats_apply_config "$APP_DIR/nats"
  [ "$status" -eq 0 ]
  [[ $output == "lib: restarting NATS for its new config: nats-server refused to reload it: no reload within 10 s; the API reconnects"* ]]
  [ "$(grep -c '^sleep 0.2$' "$CALLS")" -eq 50 ]
  [ "$(grep -c ' kill -s HUP nats$' "$CALLS")" -eq 1 ]
  restarted
}

@test "nats_started: empty when there is no NATS container" {
  echo 0000000000a1 >"$APP_DIR/current-release"
  stub docker
  run nats_started
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(calls)" = "docker compose --project-directory $APP_DIR -f $APP_DIR/docker-compose.prod.yml ps -q nats" ]
}

@test "nats_apply_config: a signal that cannot be sent stops the step" {
  nats_here
  stub docker '
case "$*" in
  *" exec -T nats cat "*) printf "%s\n" "$CONF" ;;
  *" exec -T nats wget "*) echo "{\"config_load_time\": \"T1\"}" ;;
  *" kill -s HUP nats") exit 1 ;;
esac'
  run nats_apply_config "$APP_DIR/nats"
  [ "$status" -eq 1 ]
  [ "$output" = "lib: ERROR: could not signal NATS to reload" ]
}
