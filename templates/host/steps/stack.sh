# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/stack.sh).
# Deploy step "stack": validates the compose file, the NATS config and the
# .env (which holds the stack's secrets), installs each that changed, brings
# NATS up, then the API instances one at a time: Caddy sends traffic to the
# other while one drains its streams and comes back healthy.
# The release it brings up is recorded in current-release, outside the .env.
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
install_file "$PLATFORM_STAGE/docker-compose.prod.yml" "$APP_DIR/docker-compose.prod.yml" 0644 "$owner" || true
install_file "$PLATFORM_STAGE/nats-server.conf" "$APP_DIR/nats-server.conf" 0644 "$owner" || true
install_file "$PLATFORM_STAGE/.env" "$APP_DIR/.env" 0600 "$owner" || true
previous=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
printf '%s\n' "$RELEASE_ID" >"$PLATFORM_STAGE/current-release"
install_file "$PLATFORM_STAGE/current-release" "$APP_DIR/current-release" 0644 "$owner" || true
bring_up() {
  platform_compose up -d --wait nats
  for api in api-1 api-2; do
    platform_compose up -d --no-deps --wait "$api"
  done
  if [ "$previous" != "$RELEASE_ID" ]; then audit deploy "${previous:-none} -> $RELEASE_ID"; fi
}
with_deploy_lock bring_up
platform_compose ps --format '{{.Name}} {{.Status}}'
