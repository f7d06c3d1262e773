#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The Caddy step (templates/host/steps/caddy.sh) with caddy and systemctl
# stubbed and install_file recording: the pair validated as the unit reads
# it, then Caddy started, reloaded, or left alone, word for word.

bats_require_minimum_version 1.5.0

STEP="$BATS_TEST_DIRNAME/../../../templates/host/steps/caddy.sh"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  # caddy validate sees the environment as the unit's EnvironmentFile= sets it.
  stub caddy 'echo "  API_HOST=$API_HOST" >>"$CALLS"; [ -z "$INVALID" ]'
  stub install
  # ACTIVE: Caddy runs.
  stub systemctl 'case $1 in is-active) if [ "$2" = --quiet ]; then [ -n "$ACTIVE" ]; else echo active; fi ;; esac'
}

caddy_step() {
  local dir
  dir=$(stage recorded)
  run env PLATFORM_STAGE="$dir" CADDYFILE_B64="$(echo '{$API_HOST} { respond ok }' | base64 -w0)" \
    PLATFORM_ENV_B64="$(printf 'API_HOST=chat.example.com\nACME_EMAIL=ops@example.com\n' | base64 -w0)" \
    CADDY_DROPIN_B64="$(printf '[Service]\nEnvironmentFile=/etc/caddy/platform.env\n' | base64 -w0)" "$@" bash "$STEP"
}

DIR=/etc/systemd/system/caddy.service.d/platform.conf

@test "a new drop-in: systemd reloaded, Caddy enabled and started" {
  caddy_step INSTALLED="$DIR /etc/caddy/platform.env /etc/caddy/Caddyfile"
  [ "$status" -eq 0 ]
  [ "$(calls | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "caddy validate --config TMP/stage/Caddyfile --adapter caddyfile
  API_HOST=chat.example.com
install -d -m 0750 -o caddy -g adm /var/log/caddy
install_file $DIR 0644 root:root
install_file /etc/caddy/platform.env 0640 root:caddy
install_file /etc/caddy/Caddyfile 0644 root:root
systemctl daemon-reload
systemctl enable caddy
systemctl is-active --quiet caddy
systemctl start caddy
systemctl is-active caddy" ]
  [ "$(tail -1 <<<"$output")" = "caddy: active" ]
}

@test "a changed Caddyfile on a running Caddy: reloaded (open streams kept), systemd not reloaded" {
  caddy_step ACTIVE=1 INSTALLED=/etc/caddy/Caddyfile
  [ "$status" -eq 0 ]
  [ "$(calls | tail -4)" = "systemctl enable caddy
systemctl is-active --quiet caddy
systemctl reload caddy
systemctl is-active caddy" ]
  [ "$(grep -c daemon-reload "$CALLS")" -eq 0 ]
}

@test "nothing changed on a running Caddy: neither reloaded nor restarted" {
  caddy_step ACTIVE=1
  [ "$status" -eq 0 ]
  [ "$(calls | tail -3)" = "systemctl enable caddy
systemctl is-active --quiet caddy
systemctl is-active caddy" ]
}

@test "a Caddyfile that does not validate: nothing installed, Caddy keeps the old one" {
  caddy_step INVALID=1 ACTIVE=1
  [ "$status" -eq 1 ]
  [ "$output" = "caddy: ERROR: the new Caddyfile does not validate; Caddy keeps running the old one" ]
  [ "$(grep -cE '^(install|systemctl)' "$CALLS")" -eq 0 ]
}
