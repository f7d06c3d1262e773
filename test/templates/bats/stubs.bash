# shellcheck shell=bash
# Stubbed commands for the host scripts' bats tests: each stub, put on the
# PATH ahead of the real command, appends its name and arguments to $CALLS
# (one line a call), then does what the test asked (by default nothing,
# successfully), so a test can assert word for word what a script ran.

# use_stubs: an empty call log, and the stubs' folder first on the PATH.
use_stubs() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  export CALLS="$BATS_TEST_TMPDIR/calls" PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  : >"$CALLS"
}

# stub NAME [BODY]: NAME records each call, then runs BODY (bash; its
# arguments are the call's).
stub() {
  {
    echo '#!/usr/bin/env bash'
    # shellcheck disable=SC2016 # written into the stub, expanded when it runs
    printf 'printf "%%s\\n" "%s${*:+ $*}" >>"$CALLS"\n' "$1"
    printf '%s\n' "${2:-exit 0}"
  } >"$BATS_TEST_TMPDIR/bin/$1"
  chmod +x "$BATS_TEST_TMPDIR/bin/$1"
}

# calls: what the stubs were called with, in order.
calls() { cat "$CALLS"; }

# record_installs: install_file (templates/host/lib.sh) replaced by one that
# records its destination, mode, owner and validator, keeps what it was
# given in $BATS_TEST_TMPDIR/installed/, and reports "installed" (0,
# setting changed) for the destinations listed in INSTALLED, "already the
# same" (1) for the others. Call it after sourcing lib.sh.
record_installs() {
  mkdir -p "$BATS_TEST_TMPDIR/installed"
  install_file() {
    printf '%s\n' "install_file ${*:2}" >>"$CALLS"
    cp "$1" "$BATS_TEST_TMPDIR/installed/$(basename "$2")"
    case " ${INSTALLED:-} " in *" $2 "*)
      changed=1
      return 0
      ;;
    esac
    return 1
  }
}

# installed NAME: what install_file was given for a destination named NAME.
installed() { cat "$BATS_TEST_TMPDIR/installed/$1"; }

# stage [RECORDED]: a deploy's staging folder ($BATS_TEST_TMPDIR/stage)
# holding lib.sh, as a step or ops command gets it; with RECORDED, its
# install_file is record_installs' (exported settings only reach the step).
# shellcheck disable=SC2120 # RECORDED is optional
stage() {
  local dir="$BATS_TEST_TMPDIR/stage"
  mkdir -p "$dir"
  cat "$BATS_TEST_DIRNAME/../../../templates/host/lib.sh" >"$dir/lib.sh"
  if [ -n "${1:-}" ]; then
    record_installs
    declare -f install_file >>"$dir/lib.sh"
    export BATS_TEST_TMPDIR CALLS INSTALLED
  fi
  printf '%s\n' "$dir"
}

# bootstrap_under_test: the bootstrap's library (lib.sh, firewall.sh,
# ssh-access.sh) and its job files (templates/host/bootstrap/) sourced, as
# bootstrap.sh sources them, with the stubs in use.
bootstrap_under_test() {
  local host="$BATS_TEST_DIRNAME/../../../templates/host"
  # shellcheck source=templates/host/lib.sh
  . "$host/lib.sh"
  # shellcheck source=templates/host/firewall.sh
  . "$host/firewall.sh"
  # shellcheck source=templates/host/ssh-access.sh
  . "$host/ssh-access.sh"
  # shellcheck source=templates/host/bootstrap/checks.sh
  . "$host/bootstrap/checks.sh"
  # shellcheck source=templates/host/bootstrap/packages.sh
  . "$host/bootstrap/packages.sh"
  # shellcheck source=templates/host/bootstrap/access.sh
  . "$host/bootstrap/access.sh"
  # shellcheck source=templates/host/bootstrap/hardening.sh
  . "$host/bootstrap/hardening.sh"
  # shellcheck source=templates/host/bootstrap/runtime.sh
  . "$host/bootstrap/runtime.sh"
  # lib.sh turns on -u, which bats itself is not written for; -e stays.
  set +u
  use_stubs
  LOG_PREFIX=bootstrap
  here=$host
}

# changes_once COMMAND...: COMMAND changes something (sets changed), and run again changes nothing.
changes_once() {
  changed=0
  "$@"
  [ "$changed" -eq 1 ] || return 1
  changed=0
  "$@"
  [ "$changed" -eq 0 ]
}

# stops_with MESSAGE COMMAND...: COMMAND fails (1), saying "<LOG_PREFIX>: ERROR: MESSAGE" and nothing else.
stops_with() {
  run "${@:2}"
  [ "$status" -eq 1 ] || return 1
  [ "$output" = "$LOG_PREFIX: ERROR: $1" ]
}

# hold_deploy_lock HOLDER: another process holds APP_DIR's deploy lock, its
# holder file saying HOLDER, until free_deploy_lock (call it in teardown).
hold_deploy_lock() {
  echo "$1" >"$APP_DIR/.deploy.lock.holder"
  # exec: $! is the process that holds the lock, so killing it frees the lock.
  (exec 9>>"$APP_DIR/.deploy.lock" && flock 9 && exec sleep 60) >/dev/null 2>&1 3>&- &
  LOCK_HOLDER=$!
  until ! flock -n "$APP_DIR/.deploy.lock" true; do sleep 0.05; done
}

# free_deploy_lock: ends hold_deploy_lock's holder, if any.
free_deploy_lock() {
  if [ -n "${LOCK_HOLDER:-}" ]; then kill "$LOCK_HOLDER" 2>/dev/null || true; fi
}

# run_ops NAME [NAME=VALUE...]: templates/host/ops/NAME.sh as an ops command
# runs it (bash, lib.sh in its staging folder), with APP_DIR and ACTOR=ops
# and the inputs given.
run_ops() {
  run env PLATFORM_STAGE="$(stage)" APP_DIR="$APP_DIR" ACTOR=ops "${@:2}" \
    bash "$BATS_TEST_DIRNAME/../../../templates/host/ops/$1.sh"
}

# ops_host: the stubs in use, and a host's APP_DIR ($BATS_TEST_TMPDIR/app)
# with release 0000000000a1 in service; $compose is how the ops scripts'
# Compose commands start there, audited prints the audit log without its times.
ops_host() {
  use_stubs
  export APP_DIR="$BATS_TEST_TMPDIR/app"
  mkdir -p "$APP_DIR/releases"
  echo 0000000000a1 >"$APP_DIR/current-release"
  compose="docker compose --project-directory $APP_DIR -f $APP_DIR/docker-compose.prod.yml"
}
audited() { cut -f2- "$APP_DIR/audit.log"; }

# stub_instances: a docker whose `up -d ... NAME` fails for the API instance
# NAME in $UNHEALTHY (it never becomes healthy); every other call succeeds.
stub_instances() {
  # shellcheck disable=SC2016 # expanded by the stub when it runs
  stub docker '[ -z "$UNHEALTHY" ] || [[ $* != *" up -d "*" $UNHEALTHY" ]]'
}
