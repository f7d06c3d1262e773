#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # stub bodies expand when the stub runs; each test exports its own settings
# `ops status` on the host (templates/host/ops/status.sh), with curl, docker,
# du, df, openssl, setpriv and systemctl stubbed: what it asks, word for
# word, and the sections it prints, on a host where everything answers and
# on one where nothing does (no release yet, the API silent, no
# data directory, no certificate folder, no backup, no timer); and where the API's name comes from.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export APP_DIR="$BATS_TEST_TMPDIR/app" DATA_DIR="$BATS_TEST_TMPDIR/data" CADDY_DATA="$BATS_TEST_TMPDIR/caddy"
  mkdir -p "$APP_DIR" "$DATA_DIR/backups" "$CADDY_DATA"
  # Everything answers unless the test says SILENT (the API and NATS) or NO_TIMER.
  stub curl '
[ -z "$SILENT" ] || exit 7
case "$*" in
  *"https://api.example.test:8443/health "*) printf "{\"status\":\"ok\"}\n200\n" ;;
  *"http://127.0.0.1:8081/"*) printf "{\"instance\":\"api-1\"}\t200" ;;
  *"http://127.0.0.1:8082/"*) printf "{\"instance\":\"api-2\"}\t200" ;;
esac'
  stub docker '
[ -z "$SILENT" ] || exit 1
case "$*" in
  *" ps --all --format json") echo "{\"Service\":\"api-1\",\"Health\":\"healthy\"}" ;;
  *" exec -T nats wget -qO- http://127.0.0.1:8222/jsz") echo "{\"streams\":2}" ;;
esac'
  stub du '[ -d "$2" ] && printf "123456\t%s\n" "$2"'
  stub df '[ -d "$3" ] && printf "    Avail\n987654\n"'
  stub openssl 'printf "notAfter=Mar  7 01:00:00 2027 GMT\nissuer=CN = Caddy Local Authority\n"'
  # setpriv: the command after -- runs, as it would with the rights dropped.
  stub setpriv 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"'
  stub systemctl '
case "$1" in
  cat) [ -z "$NO_TIMER" ] ;;
  show) echo "$2 $4" ;;
esac'
}

status() { run_ops status API_HOST=api.example.test HTTPS_PORT=8443 CADDY_DATA="$CADDY_DATA" DATA_DIR="$DATA_DIR"; }

@test "a host where everything answers: each section, from what each command says" {
  echo 0000000000a1 >"$APP_DIR/current-release"
  mkdir -p "$CADDY_DATA/certificates/local/api.example.test"
  : >"$CADDY_DATA/certificates/local/api.example.test/api.example.test.crt"
  echo "backup-20261207T010000Z uploaded by the timer" >"$DATA_DIR/backups/last"
  status
  [ "$status" -eq 0 ]
  [ "$output" = '== api_host
api.example.test
== health
{"status":"ok"}
200
== instances
8081	{"instance":"api-1"}	200
8082	{"instance":"api-2"}	200
== containers
{"Service":"api-1","Health":"healthy"}
== release
0000000000a1
== jetstream
{"streams":2}

== disk
123456
987654
== certificate
notAfter=Mar  7 01:00:00 2027 GMT
issuer=CN = Caddy Local Authority
== backup
backup-20261207T010000Z uploaded by the timer
== backup_timer
next=platform-backup.timer NextElapseUSecRealtime
result=platform-backup.service Result
finished=platform-backup.service ExecMainExitTimestamp' ]
  [ "$(calls | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "curl -sk --max-time 5 --resolve api.example.test:8443:127.0.0.1 https://api.example.test:8443/health -w \n%{http_code}\n
curl -s --max-time 5 -w \t%{http_code} http://127.0.0.1:8081/health/details
curl -s --max-time 5 -w \t%{http_code} http://127.0.0.1:8082/health/details
docker compose --project-directory TMP/app -f TMP/app/docker-compose.prod.yml ps --all --format json
docker compose --project-directory TMP/app -f TMP/app/docker-compose.prod.yml exec -T nats wget -qO- http://127.0.0.1:8222/jsz
du -sb TMP/data
df -B1 --output=avail TMP/data
openssl x509 -noout -enddate -issuer -in TMP/caddy/certificates/local/api.example.test/api.example.test.crt
setpriv --reuid=10001 --regid=10001 --clear-groups -- head -c 4096 last
systemctl cat platform-backup.timer
systemctl show platform-backup.timer -P NextElapseUSecRealtime
systemctl show platform-backup.service -P Result
systemctl show platform-backup.service -P ExecMainExitTimestamp" ]
}

@test "a host where nothing answers yet: 000 for the API, every other section there and empty, Compose never asked, no error" {
  export SILENT=1 NO_TIMER=1
  rm -r "$DATA_DIR"
  status
  [ "$status" -eq 0 ]
  [ "$output" = '== api_host
api.example.test
== health
000
== instances
8081	
8082	
== containers
== release
== jetstream

== disk
== certificate
== backup
== backup_timer' ]
  # No release recorded: Compose is not asked (platform_compose would stop the script); nor openssl, with no certificate.
  [ "$(calls | cut -d' ' -f1 | uniq | tr '\n' ' ')" = "curl du df systemctl " ]
}

@test "caddy_api_host: the name from the caddy step's platform.env; empty when the file or the line is missing" {
  # shellcheck source=templates/host/lib.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
  set +u
  printf '# Managed by conversational-platform\nACME_EMAIL=ops@example.test\nAPI_HOST=api.example.test\n' >"$BATS_TEST_TMPDIR/platform.env"
  [ "$(caddy_api_host "$BATS_TEST_TMPDIR/platform.env")" = api.example.test ]
  printf 'ACME_EMAIL=ops@example.test\n' >"$BATS_TEST_TMPDIR/platform.env"
  [ "$(caddy_api_host "$BATS_TEST_TMPDIR/platform.env")" = "" ]
  [ "$(caddy_api_host "$BATS_TEST_TMPDIR/none.env")" = "" ]
}
