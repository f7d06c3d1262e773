#!/usr/bin/env bats
# shellcheck disable=SC2016 # stub bodies expand when the stub runs
# `ops logs` on the host (templates/host/ops/logs.sh), with docker and tail
# stubbed: which containers' logs and which access log it reads, word for
# word, for each service, the last lines or since a time, followed or not;
# Compose's terminal codes stripped, Caddy's lines labelled, --grep
# filtering (matching nothing is no error), a service it does not know.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  ops_host
  # Compose erases each line first (ESC [2K), even into a pipe.
  stub docker 'printf "\033[2Kapi-1  | 2026-12-07T01:00:00Z GET /health\n\033[2Kapi-2  | 2026-12-07T01:00:01Z POST /v1/conversations\n"'
  stub tail 'echo "{\"request\":{\"uri\":\"/v1/conversations\"}}"'
}

# logs SERVICE FOLLOW SINCE GREP [ACCESS_LOG]: the command as ops logs runs it, 50 lines.
logs() { run_ops logs SERVICE="$1" FOLLOW="$2" SINCE="$3" TAIL=50 GREP="$4" ACCESS_LOG="${5:-}"; }

@test "logs api: both instances' last lines, timestamped, plain text, no access log" {
  logs api no "" ""
  [ "$status" -eq 0 ]
  [ "$(calls)" = "$compose logs --timestamps --no-color --tail 50 api-1 api-2" ]
  [ "$output" = "api-1  | 2026-12-07T01:00:00Z GET /health
api-2  | 2026-12-07T01:00:01Z POST /v1/conversations" ]
}

@test "logs nats --since 10m: NATS's container since then" {
  logs nats no 10m ""
  [ "$status" -eq 0 ]
  [ "$(calls)" = "$compose logs --timestamps --no-color --since 10m nats" ]
}

@test "logs caddy: only the host's access log, each line labelled" {
  logs caddy no "" ""
  [ "$status" -eq 0 ]
  [ "$(calls)" = "tail -n 50 /var/log/caddy/api-access.log" ]
  [ "$output" = 'caddy | {"request":{"uri":"/v1/conversations"}}' ]
}

@test "logs all --follow --grep: every container and the access log (the local stack's), followed, filtered; a grep matching nothing is no error" {
  logs all yes "" "/v1/conversations" "$BATS_TEST_TMPDIR/access.log"
  [ "$status" -eq 0 ]
  # Compose and tail run side by side: their calls and lines in any order.
  [ "$(calls | sort)" = "$compose logs --timestamps --no-color --tail 50 --follow api-1 api-2 nats
tail -n 50 -F $BATS_TEST_TMPDIR/access.log" ]
  [ "$(sort <<<"$output")" = 'api-2  | 2026-12-07T01:00:01Z POST /v1/conversations
caddy | {"request":{"uri":"/v1/conversations"}}' ]
  # A pattern that matches nothing: no lines, and no error.
  logs all no "" "no such line"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "a service it does not know: stopped, naming the four it does" {
  logs redis no "" ""
  [ "$status" -eq 1 ]
  [ "$output" = "platform: ERROR: no service redis: use api, nats, caddy or all" ]
  [ "$(calls)" = "" ]
}
