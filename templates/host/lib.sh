# shellcheck shell=bash disable=SC2034 # "changed" is read by the scripts that source this
# Managed by conversational-platform (templates/host/lib.sh).
# The helpers every host script shares: the bootstrap and each deploy step
# (templates/host/steps/). Sourced, not run; LOG_PREFIX names the script in
# its messages. Every script stops at the first error.
set -euo pipefail
# Set to 1 by anything that changes the host, so a script can say whether it did.
changed=0

log() { printf '%s: %s\n' "${LOG_PREFIX:-platform}" "$*"; }
fail() {
  printf '%s: ERROR: %s\n' "${LOG_PREFIX:-platform}" "$*" >&2
  exit 1
}

# render TEMPLATE NAME=VALUE...: fills {{NAME}} placeholders, and fails if
# any is left (a missing value) or a value holds a line break.
render() {
  local template=$1 out pair
  shift
  out=$(cat "$template")
  for pair in "$@"; do
    case "${pair#*=}" in *$'\n'*) fail "$template: the value for ${pair%%=*} holds a line break" ;; esac
    out=${out//"{{${pair%%=*}}}"/"${pair#*=}"}
  done
  if grep -q '{{[A-Z_]*}}' <<<"$out"; then fail "$template: no value for $(grep -o '{{[A-Z_]*}}' <<<"$out" | head -1)"; fi
  printf '%s\n' "$out"
}

# install_file SRC DEST MODE OWNER:GROUP [VALIDATE...]: installs SRC as DEST
# only if it differs, after VALIDATE (run with the new file's path appended)
# accepts it; a file that fails validation leaves the live one as it is.
# Returns 0 when it installed, 1 when DEST was already the same.
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  shift 4
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest" || fail "could not set the mode of $dest"
    chown "$owner" "$dest" || fail "could not set the owner of $dest"
    return 1
  fi
  if [ $# -gt 0 ] && ! "$@" "$src"; then
    fail "$dest: the new version does not validate; the live file was left as it is"
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest" || fail "could not install $dest"
  log "installed $dest"
  changed=1
  return 0
}

# decode NAME FILE: writes the base64 value of the variable NAME to FILE (how
# a deploy step receives the files it installs).
decode() {
  printf '%s' "${!1:?no value for $1}" | base64 -d >"$2"
}

# load_env FILE: exports FILE's NAME=value lines as systemd's EnvironmentFile=
# reads them: the rest of the line is the value, spaces included (a shell
# would run "a=b c" as the command c).
load_env() {
  local line
  while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    export "${line%%=*}=${line#*=}"
  done <"$1"
}

# platform_compose ARGS...: docker compose for the stack in APP_DIR, with the
# release in service read from APP_DIR/current-release: outside the secret
# .env, so a rollback or a status needs no secret.
platform_compose() {
  local release
  release=$(cat "$APP_DIR/current-release" 2>/dev/null) || fail "no release is recorded in $APP_DIR/current-release: run npm run up once"
  API_RELEASE="releases/$release" docker compose --project-directory "$APP_DIR" -f "$APP_DIR/docker-compose.prod.yml" "$@"
}

# app_file PATH: creates PATH in APP_DIR if missing, owned like APP_DIR: the
# deploy steps run as root, the ops commands as the deploy user, and both
# write the lock and the audit log.
app_file() {
  : >>"$1" || fail "cannot write $1 (it should belong to $(stat -c %U "$APP_DIR"), like $APP_DIR)"
  if [ "$(id -u)" -eq 0 ]; then chown "$(stat -c %U:%G "$APP_DIR")" "$1"; fi
}

# record_release ID: the release in service, written whole or not at all.
record_release() {
  printf '%s\n' "$1" >"$APP_DIR/current-release.new"
  if [ "$(id -u)" -eq 0 ]; then chown "$(stat -c %U:%G "$APP_DIR")" "$APP_DIR/current-release.new"; fi
  chmod 0644 "$APP_DIR/current-release.new"
  mv "$APP_DIR/current-release.new" "$APP_DIR/current-release"
}

# release_to_serve RELEASE_ID IN_SERVICE SHIPPED: the release a pulumi up
# leaves in service. Its own bundle (RELEASE_ID) when none is in service or
# when that bundle changed since its last deploy (SHIPPED, the id it put in
# pulumi-release then); otherwise the one in service (IN_SERVICE), which an
# ops deploy or rollback may have chosen since.
release_to_serve() {
  local bundle=$1 in_service=$2 shipped=$3
  if [ -z "$in_service" ] || [ "$shipped" != "$bundle" ]; then
    printf '%s\n' "$bundle"
  else
    printf '%s\n' "$in_service"
  fi
}

# api_one_by_one: recreates the API instances on the recorded release, in
# turn, each healthy (within two minutes) before the next: Caddy always has
# one to send traffic to.
api_one_by_one() {
  local api
  for api in api-1 api-2; do
    platform_compose up -d --no-deps --wait --wait-timeout 120 "$api" || return 1
  done
}

# certificate_pending NAME: whether Let's Encrypt cannot issue NAME's
# certificate to this host yet: NAME resolves here (IPv4, as getent sees it)
# to nothing, or to no address of this host's interfaces (a new zone not
# delegated yet). Prints what NAME resolves to ("nothing" when it does not).
certificate_pending() {
  local resolved
  # getent fails for a name that does not resolve: that is a case to report.
  resolved=$({ getent ahostsv4 "$1" || true; } | awk 'NR == 1 { print $1 }')
  printf '%s\n' "${resolved:-nothing}"
  [ -n "$resolved" ] || return 0
  # Read whole, then matched: grep -q stopping early would, under pipefail,
  # fail the pipe when it found the address.
  local own
  own=$(ip -4 -o addr show | awk '{ sub("/.*", "", $4); print $4 }')
  ! grep -qxF "$resolved" <<<"$own"
}

# caddy_api_host FILE: the name Caddy serves the API under, from FILE (the
# caddy step's platform.env, API_HOST=...); empty when FILE or the line is missing.
caddy_api_host() {
  sed -n 's/^API_HOST=//p' "$1" 2>/dev/null || true
}

# with_deploy_lock COMMAND...: one deploy, rollback or restart at a time on
# this host; a second one stops at once, saying who holds the lock.
with_deploy_lock() {
  local lock="$APP_DIR/.deploy.lock"
  app_file "$lock"
  app_file "$lock.holder"
  exec 9>>"$lock"
  if ! flock -n 9; then
    fail "another deploy is running here ($(cat "$lock.holder" 2>/dev/null || echo "holder unknown")); try again when it ends"
  fi
  printf '%s since %s\n' "${ACTOR:-someone}" "$(date -u +%FT%TZ)" >"$lock.holder"
  "$@"
}

# ensure_image IMAGE KEY: IMAGE in the Docker engine, pulled only when the
# engine does not have it: a new digest, on the deploy that brings it. An
# image the engine has is never pulled again: by digest it is those very
# bytes; by tag (config allowImageTags) it is one built on the host, which
# no registry has. KEY names the stack setting in the error.
ensure_image() {
  local image=$1 key=$2
  if docker image inspect "$image" >/dev/null 2>&1; then return 0; fi
  log "pulling $image ($key)"
  docker pull --quiet "$image" >/dev/null ||
    fail "cannot pull $image (config $key): check its name and digest (docker buildx imagetools inspect), and that this host reaches the registry"
  changed=1
}

# releases_to_prune DIR KEEP SPARED...: the release directories in DIR past
# the KEEP newest, never one of SPARED (the release in service, the one
# being installed). Only release directories (named by their hex id): an
# upload still arriving is a file, and stays.
releases_to_prune() {
  local dir=$1 keep=$2 release
  shift 2
  # shellcheck disable=SC2012 # release names are hex ids; ls -t sorts them by age
  ls -1td -- "$dir"/*/ 2>/dev/null | while IFS= read -r release; do
    release=$(basename "$release")
    [[ $release =~ ^[0-9a-f]+$ ]] || continue
    case " $* " in *" $release "*) continue ;; esac
    printf '%s\n' "$release"
  done | tail -n +"$((keep + 1))"
}

# audit ACTION DETAIL...: one line per deploy, rollback or restart in
# APP_DIR/audit.log, who and when first.
audit() {
  app_file "$APP_DIR/audit.log"
  printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "${ACTOR:-unknown}" "$1" "${*:2}" >>"$APP_DIR/audit.log"
}

# nats_monitor PATH: GET PATH (e.g. varz) of NATS's monitoring endpoint. It
# listens inside the NATS container only (templates/stack/nats-server.conf):
# read there, with the image's own wget. Fails when the server does not answer.
nats_monitor() {
  local release
  release=$(cat "$APP_DIR/current-release" 2>/dev/null) || return 1
  # Bounded here (platform_compose's command line): not every image's wget has a timeout option.
  # Its stdin is not the script's: `exec` would read the rest of a script fed to `bash -s`.
  API_RELEASE="releases/$release" timeout 10 docker compose --project-directory "$APP_DIR" \
    -f "$APP_DIR/docker-compose.prod.yml" exec -T nats wget -qO- "http://127.0.0.1:8222/$1" 2>/dev/null </dev/null
}

# nats_loaded_at: when the running NATS server last loaded its config: at
# its start or at the last reload it accepted (config_load_time in /varz).
# Fails when the server does not answer.
nats_loaded_at() {
  local at
  at=$(nats_monitor varz | sed -n 's/.*"config_load_time": *"\([^"]*\)".*/\1/p') || return 1
  [ -n "$at" ] || return 1
  printf '%s\n' "$at"
}

# nats_config_digest DIR: the sha256 of the NATS config in DIR, as the
# server reads it: nats-server.conf and the users it includes.
nats_config_digest() {
  cat "$1/nats-server.conf" "$1/nats-auth.conf" | sha256sum | cut -d' ' -f1
}

# nats_started: the NATS container's id and start time, empty when there is
# none; it changes whenever the server starts again, and so reads its config.
nats_started() {
  local id
  id=$(platform_compose ps -q nats) || return 1
  if [ -n "$id" ]; then docker inspect -f '{{.Id}} {{.State.StartedAt}}' "$id"; fi
}

# nats_apply_config DIR: makes the running NATS server load the config in
# DIR (nats_config_digest), as installed in APP_DIR. First a live reload (SIGHUP), which keeps
# the API's connections; nats-server refuses some changes live (JetStream's
# limits, listen addresses), keeps its old config whole and logs why: then a
# new container, healthy within two minutes, which the API reconnects to.
nats_apply_config() {
  local want seen before now since reason="" i
  want=$(nats_config_digest "$1")
  # What the container reads through its bind mount: a mount that still
  # holds a replaced file's old inode would reload the old config, "successfully".
  if ! seen=$(platform_compose exec -T nats cat /etc/nats/nats-server.conf /etc/nats/nats-auth.conf </dev/null | sha256sum | cut -d' ' -f1); then
    reason="its config cannot be read inside the container"
  elif [ "$seen" != "$want" ]; then
    reason="the container does not see the installed file"
  elif ! before=$(nats_loaded_at); then
    reason="its monitoring endpoint does not answer"
  else
    since=$(date -u +%FT%T.%NZ)
    platform_compose kill -s HUP nats >/dev/null 2>&1 || fail "could not signal NATS to reload"
    # An accepted reload takes milliseconds; a refused one is logged as fast.
    for ((i = 0; i < 50; i++)); do
      sleep 0.2
      if now=$(nats_loaded_at) && [ "$now" != "$before" ]; then
        log "NATS config reloaded live, no restart (loaded at $now)"
        return 0
      fi
      reason=$(platform_compose logs --no-log-prefix --since "$since" nats 2>/dev/null |
        sed -n 's/.*Failed to reload server configuration: //p' | tail -1) || true
      if [ -n "$reason" ]; then break; fi
    done
    reason="nats-server refused to reload it: ${reason:-no reload within 10 s}"
  fi
  log "restarting NATS for its new config: $reason; the API reconnects"
  platform_compose up -d --no-deps --force-recreate --wait --wait-timeout 120 nats || return 1
  log "NATS restarted with its new config (loaded at $(nats_loaded_at || echo unknown))"
}
