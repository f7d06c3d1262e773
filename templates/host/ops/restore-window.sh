# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/restore-window.sh).
# `npm run ops -- restore` (and `purge`): holds the deploy lock and keeps the
# API instances stopped while the operator's machine rewrites JetStream
# through its SSH tunnel, so nothing writes to, or recreates, a stream being
# restored. Prints "== stopped" when they are down, then waits for one line
# on standard input (the outcome, for the audit log) or for it to close (the
# operator's machine went away); either way the API instances come back one
# at a time. All it says is also in restore-window.log.
# Inputs: APP_DIR, ACTION (restore or purge), DETAIL, ACTOR.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=$ACTION
# Everything said also goes to a log, and keeps going there if the operator's
# channel closes at any point (tee does not stop at a broken pipe), so no
# write to a closed channel can end this script before the API is back.
trap '' PIPE
exec > >(tee --output-error=warn-nopipe -a "$APP_DIR/restore-window.log") 2>&1

window() {
  local outcome
  log "stopping the API instances"
  platform_compose stop api-1 api-2
  echo "== stopped"
  if ! IFS= read -r outcome; then outcome="interrupted: the operator's connection closed"; fi
  audit "$ACTION" "$DETAIL: $outcome"
  log "$ACTION: $outcome; starting the API instances again"
  api_one_by_one || fail "the API instances did not come back healthy: npm run ops -- status, then logs api"
}

with_deploy_lock window
