#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016 # stubs run later: their single-quoted bodies expand then
# The stack step (templates/host/steps/stack.sh) run as a deploy runs it,
# with docker stubbed: the release it leaves in service and audits, and
# what it asks of Docker Compose word for word, NATS's config applied by a
# live reload or, when NATS refuses that, by a new container.

bats_require_minimum_version 1.5.0

LIB="$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
STEP="$BATS_TEST_DIRNAME/../../../templates/host/steps/stack.sh"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export APP_DIR="$BATS_TEST_TMPDIR/app" STATE="$BATS_TEST_TMPDIR/state"
  mkdir -p "$APP_DIR/releases" "$STATE"
  # Docker as the stack sees it: NATS's container id and start in $STATE,
  # the time its config was loaded, whether it accepts a reload
  # (RELOAD_REFUSED), whether its monitoring endpoint answers (NO_MONITOR).
  echo T0 >"$STATE/loaded"
  # shellcheck disable=SC2016 # expanded by the stub when it runs
  stub docker '
case "$*" in
  *" ps -q nats") cat "$STATE/nats-id" 2>/dev/null || true ;;
  "inspect -f "*) echo "$4 started-$(cat "$STATE/starts")" ;;
  *" up -d --wait --wait-timeout 120 nats")
    if [ ! -f "$STATE/nats-id" ]; then echo n1 >"$STATE/nats-id"; echo 1 >"$STATE/starts"; echo T1 >"$STATE/loaded"; fi ;;
  *" up -d --no-deps --force-recreate --wait --wait-timeout 120 nats")
    echo $(($(cat "$STATE/starts") + 1)) >"$STATE/starts"; echo T3 >"$STATE/loaded" ;;
  *" exec -T nats cat /etc/nats/nats-server.conf /etc/nats/nats-auth.conf") cat "$APP_DIR/nats/nats-server.conf" "$APP_DIR/nats/nats-auth.conf" ;;
  *" exec -T nats wget -qO- http://127.0.0.1:8222/varz") [ -z "$NO_MONITOR" ] || exit 1; echo "{\"config_load_time\": \"$(cat "$STATE/loaded")\"}" ;;
  *" kill -s HUP nats") if [ -z "$RELOAD_REFUSED" ]; then echo T2 >"$STATE/loaded"; fi ;;
  *" logs --no-log-prefix --since "*) if [ -n "$RELOAD_REFUSED" ]; then echo "[1] Failed to reload server configuration: $RELOAD_REFUSED"; fi ;;
  *" ps --format "*) echo "platform-api-1-1 Up (healthy)" ;;
  # The old token, when an instance is started with it.
  *" up -d --no-deps --wait --wait-timeout 120 api-"*) if [ -n "$NATS_LEGACY_TOKEN" ]; then echo "  NATS_LEGACY_TOKEN=$NATS_LEGACY_TOKEN" >>"$CALLS"; fi ;;
esac
exit 0'
}

# deploy RELEASE_ID [NATS_CONF]: the stack step as pulumi up runs it (bash -s with its inputs).
deploy() {
  local stage="$BATS_TEST_TMPDIR/stage"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$LIB" "$stage/lib.sh"
  : >"$CALLS"
  run env PLATFORM_STAGE="$stage" RELEASE_ID="$1" API_IMAGE=api@sha256:aa NATS_IMAGE=nats@sha256:bb ACTOR=ci \
    COMPOSE_B64="$(echo 'services: {}' | base64 -w0)" NATS_CONF_B64="$(echo "${2:-max_payload: 1MB}" | base64 -w0)" \
    NATS_AUTH_B64="$(echo 'authorization {}' | base64 -w0)" STACK_ENV_B64="$(echo 'NATS_API_PASSWORD=p' | base64 -w0)" \
    bash "$STEP"
}

# docker_calls: the docker commands the step ran, the test's folder as TMP.
docker_calls() { sed "s#$BATS_TEST_TMPDIR#TMP#g" "$CALLS"; }
compose='docker compose --project-directory TMP/app -f TMP/app/docker-compose.prod.yml'

audited() { cut -f2- "$APP_DIR/audit.log"; }

@test "a first deploy puts its bundle in service, brings NATS up, then each API instance, and audits it" {
  deploy 0000000000b1
  [ "$status" -eq 0 ]
  [ "$(cat "$APP_DIR/current-release")" = "0000000000b1" ]
  [ "$(cat "$APP_DIR/pulumi-release")" = "0000000000b1" ]
  [ "$(audited)" = "ci	deploy	none -> 0000000000b1" ]
  [ "$(docker_calls)" = "docker image inspect api@sha256:aa
docker image inspect nats@sha256:bb
docker compose --project-directory TMP/app -f TMP/stage/docker-compose.prod.yml --env-file TMP/stage/.env config -q
docker run --rm --network none -v TMP/stage/nats:/etc/nats:ro nats@sha256:bb -c /etc/nats/nats-server.conf -t
$compose ps -q nats
$compose up -d --wait --wait-timeout 120 nats
$compose ps -q nats
docker inspect -f {{.Id}} {{.State.StartedAt}} n1
$compose exec -T nats wget -qO- http://127.0.0.1:8222/varz
$compose up -d --no-deps --wait --wait-timeout 120 api-1
$compose up -d --no-deps --wait --wait-timeout 120 api-2
$compose ps --format {{.Name}} {{.Status}}" ]
  [ "$(cat "$APP_DIR/nats/nats-server.conf.loaded")" = "$(cat "$APP_DIR/nats/nats-server.conf" "$APP_DIR/nats/nats-auth.conf" | sha256sum | cut -d' ' -f1) T1" ]
}

@test "a deploy whose bundle has not changed keeps the release a rollback put in service, and says so" {
  deploy 0000000000b1
  echo 0000000000a1 >"$APP_DIR/current-release"
  deploy 0000000000b1
  [ "$status" -eq 0 ]
  [ "$(cat "$APP_DIR/current-release")" = "0000000000a1" ]
  [[ $output == *"stack: keeping release 0000000000a1 in service (from an ops deploy or rollback); this deploy's bundle, 0000000000b1, has not changed"* ]]
  # Nothing new in service: no deploy line.
  [ "$(audited)" = "ci	deploy	none -> 0000000000b1" ]
}

@test "a deploy with a changed bundle replaces the release a rollback put in service" {
  deploy 0000000000b1
  echo 0000000000a1 >"$APP_DIR/current-release"
  deploy 0000000000b2
  [ "$status" -eq 0 ]
  [ "$(cat "$APP_DIR/current-release")" = "0000000000b2" ]
  [ "$(cat "$APP_DIR/pulumi-release")" = "0000000000b2" ]
  [ "$(audited | tail -1)" = "ci	deploy	0000000000a1 -> 0000000000b2" ]
}

@test "an unchanged NATS config on a running server is neither reloaded nor restarted" {
  deploy 0000000000b1
  deploy 0000000000b1
  [ "$status" -eq 0 ]
  [ "$(grep -cE ' kill | --force-recreate ' "$CALLS")" -eq 0 ]
}

@test "a changed NATS config is reloaded live (SIGHUP) once the container sees it, and recorded" {
  deploy 0000000000b1
  deploy 0000000000b1 'max_payload: 2MB'
  [ "$status" -eq 0 ]
  [[ $output == *"stack: NATS config reloaded live, no restart (loaded at T2)"* ]]
  grep -qxF "$compose kill -s HUP nats" <(docker_calls)
  [ "$(grep -c -- '--force-recreate' "$CALLS")" -eq 0 ]
  [ "$(cut -d' ' -f2 "$APP_DIR/nats/nats-server.conf.loaded")" = "T2" ]
}

@test "a changed NATS config that nats-server refuses to reload live gets a new container, saying why" {
  deploy 0000000000b1
  export RELOAD_REFUSED="config reload not supported for jetstream max memory"
  deploy 0000000000b1 'max_payload: 2MB'
  [ "$status" -eq 0 ]
  [[ $output == *"stack: restarting NATS for its new config: nats-server refused to reload it: config reload not supported for jetstream max memory; the API reconnects"* ]]
  grep -qxF "$compose up -d --no-deps --force-recreate --wait --wait-timeout 120 nats" <(docker_calls)
  [ "$(cut -d' ' -f2 "$APP_DIR/nats/nats-server.conf.loaded")" = "T3" ]
}

@test "a stack on NATS's single token moves to users: the API instances first, with the old token" {
  deploy 0000000000b1
  # shellcheck disable=SC2016 # the old config's own text
  printf 'authorization {\n  token: $NATS_TOKEN\n}\n' >"$APP_DIR/nats/nats-server.conf"
  echo NATS_TOKEN=old-token >"$APP_DIR/.env"
  deploy 0000000000b1
  [ "$status" -eq 0 ]
  [[ $output == *"stack: NATS moves from its single token to users: the API instances first, then NATS"* ]]
  # The instances first, with the token, then NATS on its users' config, then the instances on users only.
  [ "$(docker_calls | sed -n '/api-1$/,$p')" = "$compose up -d --no-deps --wait --wait-timeout 120 api-1
  NATS_LEGACY_TOKEN=old-token
$compose up -d --no-deps --wait --wait-timeout 120 api-2
  NATS_LEGACY_TOKEN=old-token
$compose ps -q nats
docker inspect -f {{.Id}} {{.State.StartedAt}} n1
$compose up -d --wait --wait-timeout 120 nats
$compose ps -q nats
docker inspect -f {{.Id}} {{.State.StartedAt}} n1
$compose exec -T nats wget -qO- http://127.0.0.1:8222/varz
$compose exec -T nats wget -qO- http://127.0.0.1:8222/varz
$compose up -d --no-deps --wait --wait-timeout 120 api-1
$compose up -d --no-deps --wait --wait-timeout 120 api-2
$compose ps --format {{.Name}} {{.Status}}" ]
}

@test "AUDIT_ACTION adds its line once the stack runs on the new settings (ops rotate)" {
  deploy 0000000000b1
  AUDIT_ACTION=rotate AUDIT_DETAIL="nats-api password" deploy 0000000000b1
  [ "$status" -eq 0 ]
  [ "$(audited | tail -1)" = "ci	rotate	nats-api password" ]
}

@test "an old NATS config beside the compose file is removed (NATS reads nats/ now)" {
  deploy 0000000000b1
  echo old >"$APP_DIR/nats-server.conf"
  deploy 0000000000b1
  [ ! -e "$APP_DIR/nats-server.conf" ]
  [[ $output == *"stack: removed $APP_DIR/nats-server.conf"* ]]
}

@test "a compose file or NATS config that does not validate stops the step before anything is installed" {
  stub docker '[[ $* != *" config -q" ]]'
  deploy 0000000000b1
  [ "$status" -ne 0 ]
  [ ! -e "$APP_DIR/docker-compose.prod.yml" ]
  [ ! -e "$APP_DIR/current-release" ]
  stub docker '[ "$1" != run ]'
  deploy 0000000000b1
  [ "$status" -ne 0 ]
  [ "$(tail -1 "$CALLS" | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "docker run --rm --network none -v TMP/stage/nats:/etc/nats:ro nats@sha256:bb -c /etc/nats/nats-server.conf -t" ]
  [ ! -e "$APP_DIR/nats" ]
}

@test "NATS's monitoring endpoint silent after the deploy stops the step, saying where it listens" {
  deploy 0000000000b1
  export NO_MONITOR=1
  deploy 0000000000b1
  [ "$status" -eq 1 ]
  [[ $output == *"stack: ERROR: NATS's monitoring endpoint (127.0.0.1:8222 in its container) does not answer"* ]]
}
