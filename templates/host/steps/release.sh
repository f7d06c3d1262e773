# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/release.sh).
# Deploy step "release": moves an uploaded API bundle into its release
# directory (releases/<id>/api.cjs) once it parses in the image that will run
# it, and keeps the newest RELEASES_KEPT others for a rollback.
# Inputs: APP_DIR, RELEASE_ID, RELEASES_KEPT, API_IMAGE (empty: the one in
# the stack's .env); the bundle was uploaded as
# $APP_DIR/releases/upload-$RELEASE_ID.cjs.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=release

cd "$APP_DIR/releases"
if [ -z "$API_IMAGE" ]; then API_IMAGE=$(sed -n 's/^API_IMAGE=//p' "$APP_DIR/.env"); fi
if [ ! -f "$RELEASE_ID/api.cjs" ]; then
  ensure_image "$API_IMAGE" apiImage
  docker run --rm --network none -v "$PWD/upload-$RELEASE_ID.cjs:/app/api.cjs:ro" "$API_IMAGE" node --check /app/api.cjs
  mkdir -p "$RELEASE_ID"
  mv "upload-$RELEASE_ID.cjs" "$RELEASE_ID/api.cjs"
  chmod 0644 "$RELEASE_ID/api.cjs"
  # Owned like the other releases, whoever runs this step.
  chown -R "$(stat -c %U:%G "$APP_DIR")" "$RELEASE_ID"
  log "release $RELEASE_ID installed"
fi
rm -f "upload-$RELEASE_ID.cjs"

# Under the deploy lock, as a rollback switches releases: the release in
# service is read there, so a rollback to an old release never finds it gone.
prune_releases() {
  local current old
  current=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  for old in $(releases_to_prune "$APP_DIR/releases" "$RELEASES_KEPT" "$RELEASE_ID" "$current"); do
    rm -rf -- "${APP_DIR:?}/releases/$old"
    log "removed release $old (the newest $RELEASES_KEPT others are kept for a rollback)"
  done
}
with_deploy_lock prune_releases
