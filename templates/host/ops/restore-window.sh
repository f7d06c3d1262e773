# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/restore-window.sh).
# `npm run ops -- restore` (and `purge`): holds the deploy lock and keeps the
# API instances stopped while the operator's machine rewrites JetStream
# through its SSH tunnel, so nothing writes to, or recreates, a stream being
# restored. Prints "== stopped" when they are down, then waits for one line
# on standard input (the outcome, for the audit log) or for it to close (the
# operator's machine went away: then the rest is logged to
# restore-window.log); either way the API instances come back one at a time.
# Inputs: APP_DIR, ACTION (restore or purge), DETAIL, ACTOR.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=$ACTION

window() {
  local outcome
  platform_compose stop api-1 api-2
  echo "== stopped"
  if ! IFS= read -r outcome; then
    outcome="interrupted: the operator's connection closed"
    # Nobody reads our output any more: writing to the closed channel would
    # end this script before the API is back. The rest goes to a log.
    exec >>"$APP_DIR/restore-window.log" 2>&1
  fi
  trap '' PIPE
  audit "$ACTION" "$DETAIL: $outcome"
  log "$ACTION: $outcome; starting the API instances again"
  api_one_by_one || fail "the API instances did not come back healthy: npm run ops -- status, then logs api"
}

with_deploy_lock window
