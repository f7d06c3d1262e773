# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/stack.sh).
# Deploy step "stack": validates the compose file, the NATS config and the
# .env (which holds the stack's secrets), installs each that changed, brings
# NATS up, then the API instances one at a time: Caddy sends traffic to the
# other while one drains its streams and comes back healthy.
# The release in service is recorded in current-release, outside the .env.
# Inputs: APP_DIR, NATS_IMAGE, RELEASE_ID, ACTOR; base64: COMPOSE_B64,
# NATS_CONF_B64, STACK_ENV_B64.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=stack

cd "$APP_DIR"
decode COMPOSE_B64 "$PLATFORM_STAGE/docker-compose.prod.yml"
decode NATS_CONF_B64 "$PLATFORM_STAGE/nats-server.conf"
decode STACK_ENV_B64 "$PLATFORM_STAGE/.env"
API_RELEASE="releases/$RELEASE_ID" docker compose --project-directory "$APP_DIR" \
  -f "$PLATFORM_STAGE/docker-compose.prod.yml" --env-file "$PLATFORM_STAGE/.env" config -q
docker run --rm --network none -e NATS_TOKEN=validation-only \
  -v "$PLATFORM_STAGE/nats-server.conf:/c.conf:ro" "$NATS_IMAGE" -c /c.conf -t
owner=$(stat -c %U:%G "$APP_DIR")

# Under the deploy lock, so an ops deploy or rollback never sees half of it.
# The release: pulumi up puts its bundle in service when that bundle changed
# since its last deploy (pulumi-release); otherwise it keeps the release in
# service, which an ops deploy or rollback may have changed since.
install_and_bring_up() {
  install_file "$PLATFORM_STAGE/docker-compose.prod.yml" "$APP_DIR/docker-compose.prod.yml" 0644 "$owner" || true
  install_file "$PLATFORM_STAGE/nats-server.conf" "$APP_DIR/nats-server.conf" 0644 "$owner" || true
  install_file "$PLATFORM_STAGE/.env" "$APP_DIR/.env" 0600 "$owner" || true
  local in_service shipped release
  in_service=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  shipped=$(cat "$APP_DIR/pulumi-release" 2>/dev/null || true)
  if [ -z "$in_service" ] || [ "$shipped" != "$RELEASE_ID" ]; then
    release=$RELEASE_ID
  else
    release=$in_service
    [ "$release" = "$RELEASE_ID" ] || log "keeping release $release in service (from an ops deploy or rollback); this deploy's bundle, $RELEASE_ID, has not changed"
  fi
  printf '%s\n' "$RELEASE_ID" >"$PLATFORM_STAGE/pulumi-release"
  install_file "$PLATFORM_STAGE/pulumi-release" "$APP_DIR/pulumi-release" 0644 "$owner" || true
  record_release "$release"
  platform_compose up -d --wait --wait-timeout 120 nats
  api_one_by_one
  if [ "$in_service" != "$release" ]; then audit deploy "${in_service:-none} -> $release"; fi
}
with_deploy_lock install_and_bring_up
platform_compose ps --format '{{.Name}} {{.Status}}'
