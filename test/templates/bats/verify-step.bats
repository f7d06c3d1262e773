#!/usr/bin/env bats
# The verify step (templates/host/steps/verify.sh) with curl, getent, ip and
# docker stubbed: the requests it makes, word for word, and when it says
# "certificate pending" (certificate_pending in templates/host/lib.sh)
# rather than wait for a Let's Encrypt certificate that cannot come yet.

bats_require_minimum_version 1.5.0

LIB="$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
STEP="$BATS_TEST_DIRNAME/../../../templates/host/steps/verify.sh"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  # UNHEALTHY: the instance port that fails; SHORT_FAILS, LONG_FAILS: the short
  # and the long try through Caddy fail. RESOLVES: what the name resolves to.
  # shellcheck disable=SC2016 # expanded by the stubs when they run
  stub curl '
case "$*" in
  *"http://127.0.0.1:$UNHEALTHY/health") exit 22 ;;
  *" http://127.0.0.1:8081/health/details") echo "{\"status\":\"ok\",\"instance\":\"api-1\"}" ;;
  *"--retry 3 "*) [ -z "$SHORT_FAILS" ] ;;
  *"--retry 30 "*) [ -z "$LONG_FAILS" ] ;;
esac'
  # shellcheck disable=SC2016
  stub getent '[ -n "$RESOLVES" ] || exit 2; for a in $RESOLVES; do echo "$a STREAM $2"; done'
  stub ip 'echo "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever"
echo "2: eth0    inet 198.51.100.10/23 metric 100 brd 198.51.101.255 scope global dynamic eth0\\       valid_lft 86000sec"'
  stub docker 'echo "platform-api-1-1 Exited (1) 3 seconds ago"'
}

# verify ISSUER: the step as a deploy runs it (bash -s with its inputs).
verify() {
  local stage="$BATS_TEST_TMPDIR/stage"
  mkdir -p "$stage"
  cp "$LIB" "$stage/lib.sh"
  run env PLATFORM_STAGE="$stage" API_HOST=chat.example.com TLS_ISSUER="$1" bash "$STEP"
}

INSTANCES='curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 http://127.0.0.1:8081/health
curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 http://127.0.0.1:8082/health
curl -fsS --max-time 5 http://127.0.0.1:8081/health/details'
SHORT='curl -fsS -o /dev/null --retry 3 --retry-delay 5 --retry-all-errors --max-time 10 --resolve chat.example.com:443:127.0.0.1 https://chat.example.com/health'
LONG='curl -fsS -o /dev/null --retry 30 --retry-delay 5 --retry-all-errors --max-time 10 --resolve chat.example.com:443:127.0.0.1 https://chat.example.com/health'
DETAILS='{"status":"ok","instance":"api-1"}'

@test "certificate_pending: a name that does not resolve is pending (it resolves to \"nothing\")" {
  run certificate_pending_here chat.example.com
  [ "$status" -eq 0 ]
  [ "$output" = "nothing" ]
}

@test "certificate_pending: a name resolving elsewhere is pending; one resolving here is not" {
  RESOLVES=203.0.113.9 run certificate_pending_here chat.example.com
  [ "$status" -eq 0 ]
  [ "$output" = "203.0.113.9" ]
  RESOLVES="198.51.100.10 203.0.113.9" run certificate_pending_here chat.example.com
  [ "$status" -eq 1 ]
  [ "$output" = "198.51.100.10" ]
  # Only the first address counts, as a client would try it first.
  RESOLVES="203.0.113.9 198.51.100.10" run certificate_pending_here chat.example.com
  [ "$status" -eq 0 ]
  # Not a prefix match: 198.51.100.1 is not 198.51.100.10.
  RESOLVES=198.51.100.1 run certificate_pending_here chat.example.com
  [ "$status" -eq 0 ]
}

# certificate_pending_here NAME: certificate_pending from lib.sh, with the stubs.
certificate_pending_here() {
  # shellcheck source=templates/host/lib.sh
  . "$LIB"
  certificate_pending "$@"
}

@test "internal issuer: both instances, then Caddy with its own CA, and the details" {
  verify internal
  [ "$status" -eq 0 ]
  [ "$output" = "$DETAILS" ]
  [ "$(calls)" = "$INSTANCES
curl -fsS -o /dev/null --retry 30 --retry-delay 5 --retry-all-errors --max-time 10 --resolve chat.example.com:443:127.0.0.1 --cacert /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt https://chat.example.com/health" ]
}

@test "an instance that is not healthy fails the step, listing the containers" {
  UNHEALTHY=8082 verify letsencrypt
  [ "$status" -eq 1 ]
  [ "$output" = "the API instance on 127.0.0.1:8082 is not healthy:
platform-api-1-1 Exited (1) 3 seconds ago" ]
  [ "$(calls)" = "curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 http://127.0.0.1:8081/health
curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 http://127.0.0.1:8082/health
docker ps --all --format {{.Names}} {{.Status}}" ]
}

@test "Let's Encrypt with its certificate: the short try passes, DNS is not asked" {
  verify letsencrypt
  [ "$status" -eq 0 ]
  [ "$output" = "$DETAILS" ]
  [ "$(calls)" = "$INSTANCES
$SHORT" ]
}

@test "Let's Encrypt, the name resolving to nothing: certificate pending, the step succeeds" {
  SHORT_FAILS=1 verify letsencrypt
  [ "$status" -eq 0 ]
  [ "$output" = "certificate pending: chat.example.com resolves to nothing here, not to an address of this server.
Let's Encrypt issues it once DNS points here (a new Vultr zone needs your registrar's name servers set to ns1.vultr.com and ns2.vultr.com); Caddy keeps trying by itself, and the next deploy checks again.
$DETAILS" ]
  [ "$(calls)" = "$INSTANCES
$SHORT
getent ahostsv4 chat.example.com" ]
}

@test "Let's Encrypt, the name resolving to another server: certificate pending" {
  SHORT_FAILS=1 RESOLVES=203.0.113.9 verify letsencrypt
  [ "$status" -eq 0 ]
  [[ $output == "certificate pending: chat.example.com resolves to 203.0.113.9 here, not to an address of this server."* ]]
  [ "$(calls)" = "$INSTANCES
$SHORT
getent ahostsv4 chat.example.com
ip -4 -o addr show" ]
}

@test "Let's Encrypt, the name resolving here: the long try decides" {
  SHORT_FAILS=1 RESOLVES=198.51.100.10 verify letsencrypt
  [ "$status" -eq 0 ]
  [ "$output" = "$DETAILS" ]
  [ "$(calls)" = "$INSTANCES
$SHORT
getent ahostsv4 chat.example.com
ip -4 -o addr show
$LONG" ]
  SHORT_FAILS=1 LONG_FAILS=1 RESOLVES=198.51.100.10 verify letsencrypt
  [ "$status" -ne 0 ]
  [[ $output != *"certificate pending"* ]]
}
