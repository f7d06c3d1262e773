# Managed by conversational-platform (templates/host/steps/stack.sh).
# Deploy step "stack": validates the compose file, the NATS config and the
# .env (which holds the stack's secrets), installs each that changed, brings
# NATS up, then the API instances one at a time: Caddy sends traffic to the
# other while one drains its streams and comes back healthy.
# Inputs: APP_DIR, NATS_IMAGE; base64: COMPOSE_B64, NATS_CONF_B64, STACK_ENV_B64.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=stack

cd "$APP_DIR"
decode COMPOSE_B64 "$PLATFORM_STAGE/docker-compose.prod.yml"
decode NATS_CONF_B64 "$PLATFORM_STAGE/nats-server.conf"
decode STACK_ENV_B64 "$PLATFORM_STAGE/.env"
docker compose --project-directory "$APP_DIR" -f "$PLATFORM_STAGE/docker-compose.prod.yml" \
  --env-file "$PLATFORM_STAGE/.env" config -q
docker run --rm --network none -e NATS_TOKEN=validation-only \
  -v "$PLATFORM_STAGE/nats-server.conf:/c.conf:ro" "$NATS_IMAGE" -c /c.conf -t
owner=$(stat -c %U:%G "$APP_DIR")
install_file "$PLATFORM_STAGE/docker-compose.prod.yml" "$APP_DIR/docker-compose.prod.yml" 0644 "$owner" || true
install_file "$PLATFORM_STAGE/nats-server.conf" "$APP_DIR/nats-server.conf" 0644 "$owner" || true
install_file "$PLATFORM_STAGE/.env" "$APP_DIR/.env" 0600 "$owner" || true
compose() { docker compose --project-directory "$APP_DIR" -f "$APP_DIR/docker-compose.prod.yml" "$@"; }
compose up -d --wait nats
for api in api-1 api-2; do
  compose up -d --no-deps --wait "$api"
done
compose ps --format '{{.Name}} {{.Status}}'
