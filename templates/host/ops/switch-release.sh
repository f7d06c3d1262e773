# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/switch-release.sh).
# `npm run ops -- deploy` and `rollback`: puts RELEASE_ID in service one API
# instance at a time, each healthy before the next, so Caddy always has one
# to send traffic to. When an instance does not become healthy, the previous
# release goes back the same way and the command fails. Under the deploy
# lock, and audited.
# Inputs: APP_DIR, RELEASE_ID, ACTION (deploy or rollback), ACTOR.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=$ACTION

[ -f "$APP_DIR/releases/$RELEASE_ID/api.cjs" ] ||
  fail "release $RELEASE_ID is not on this host (npm run ops -- releases lists those that are)"

record_release() {
  printf '%s\n' "$1" >"$APP_DIR/current-release.new"
  mv "$APP_DIR/current-release.new" "$APP_DIR/current-release"
}

# one_by_one: recreates the API instances on the recorded release, in turn.
one_by_one() {
  local api
  for api in api-1 api-2; do
    platform_compose up -d --no-deps --wait --wait-timeout 120 "$api" || return 1
  done
}

switch_release() {
  local previous
  previous=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  [ -n "$previous" ] || fail "no release is in service yet: the first deploy is pulumi up's"
  if [ "$previous" = "$RELEASE_ID" ]; then
    log "release $RELEASE_ID is already in service"
    return 0
  fi
  record_release "$RELEASE_ID"
  if ! one_by_one; then
    log "release $RELEASE_ID did not become healthy; putting $previous back"
    platform_compose logs --no-color --tail 40 api-1 api-2 >&2 || true
    record_release "$previous"
    one_by_one || log "the previous release $previous is not healthy either: see npm run ops -- status"
    audit "$ACTION-failed" "$previous -> $RELEASE_ID: not healthy, $previous back in service"
    fail "release $RELEASE_ID did not become healthy; $previous is in service again"
  fi
  audit "$ACTION" "$previous -> $RELEASE_ID"
  log "release $RELEASE_ID is in service (it was $previous)"
}

with_deploy_lock switch_release
