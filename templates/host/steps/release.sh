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
  docker run --rm --network none -v "$PWD/upload-$RELEASE_ID.cjs:/app/api.cjs:ro" "$API_IMAGE" node --check /app/api.cjs
  mkdir -p "$RELEASE_ID"
  mv "upload-$RELEASE_ID.cjs" "$RELEASE_ID/api.cjs"
  chmod 0644 "$RELEASE_ID/api.cjs"
  log "release $RELEASE_ID installed"
fi
rm -f "upload-$RELEASE_ID.cjs"
current=$(cat ../current-release 2>/dev/null || true)
# The newest others stay for a rollback; grep finds none on a first deploy.
# shellcheck disable=SC2010 # release names are hex ids; ls -t sorts them by age
{ ls -1t | grep -vx -e "$RELEASE_ID" -e "${current:-none}" || true; } | tail -n +"$((RELEASES_KEPT + 1))" | xargs -r rm -rf --
