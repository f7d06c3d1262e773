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

switch_release() {
  local previous
  # Checked under the lock: a deploy's release step prunes old releases under it too.
  [ -f "$APP_DIR/releases/$RELEASE_ID/api.cjs" ] ||
    fail "release $RELEASE_ID is not on this host (npm run ops -- releases lists those that are)"
  previous=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  [ -n "$previous" ] || fail "no release is in service yet: the first deploy is pulumi up's"
  if [ "$previous" = "$RELEASE_ID" ]; then
    log "release $RELEASE_ID is already in service"
    return 0
  fi
  record_release "$RELEASE_ID"
  if ! api_one_by_one; then
    log "release $RELEASE_ID did not become healthy; putting $previous back"
    platform_compose logs --no-color --tail 40 api-1 api-2 >&2 || true
    record_release "$previous"
    if ! api_one_by_one; then
      audit "$ACTION-failed" "$previous -> $RELEASE_ID: not healthy, and $previous not healthy either"
      fail "neither release $RELEASE_ID nor $previous became healthy: npm run ops -- status, and logs api"
    fi
    audit "$ACTION-failed" "$previous -> $RELEASE_ID: not healthy, $previous back in service"
    fail "release $RELEASE_ID did not become healthy; $previous is in service again"
  fi
  audit "$ACTION" "$previous -> $RELEASE_ID"
  log "release $RELEASE_ID is in service (it was $previous)"
}

with_deploy_lock switch_release
