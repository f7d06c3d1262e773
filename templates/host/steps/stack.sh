# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/stack.sh).
# Deploy step "stack": validates the compose file, the NATS config and the
# .env (which holds the stack's secrets), installs each that changed, brings
# NATS up and makes it load its installed config, then the API instances one
# at a time: Caddy sends traffic to the other while one drains its streams
# and comes back healthy.
# The release in service is recorded in current-release, outside the .env.
# Images are pulled only when the host does not have them: a new digest in
# the stack config, on the deploy that brings it.
# Inputs: APP_DIR, API_IMAGE, NATS_IMAGE, RELEASE_ID, ACTOR; base64:
# COMPOSE_B64, NATS_CONF_B64, STACK_ENV_B64.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=stack

cd "$APP_DIR"
decode COMPOSE_B64 "$PLATFORM_STAGE/docker-compose.prod.yml"
decode NATS_CONF_B64 "$PLATFORM_STAGE/nats-server.conf"
decode STACK_ENV_B64 "$PLATFORM_STAGE/.env"
ensure_image "$API_IMAGE" apiImage
ensure_image "$NATS_IMAGE" natsImage
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
  install -d -m 0755 -o "${owner%%:*}" -g "${owner##*:}" "$APP_DIR/nats"
  install_file "$PLATFORM_STAGE/nats-server.conf" "$APP_DIR/nats/nats-server.conf" 0644 "$owner" || true
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
  local started
  started=$(nats_started)
  platform_compose up -d --wait --wait-timeout 120 nats
  nats_runs_installed_config "$started"
  api_one_by_one
  if [ "$in_service" != "$release" ]; then audit deploy "${in_service:-none} -> $release"; fi
}

# `up` recreates NATS only when its compose settings change, never for a
# changed config file. What the server loaded is recorded as the file's
# sha256 and the load time the server reports, so a config installed by a
# deploy that failed before applying it is applied by the next one.
# STARTED: the container's start before `up` (nats_started), after the
# install: a server started since then read the installed file already.
nats_runs_installed_config() {
  local conf="$APP_DIR/nats/nats-server.conf" record="$APP_DIR/nats/nats-server.conf.loaded" want at now
  want=$(sha256sum <"$conf" | cut -d' ' -f1)
  now=$(nats_started)
  if [ "$now" = "$1" ]; then
    at=$(nats_loaded_at) || at=""
    if [ -z "$at" ] || [ "$(cat "$record" 2>/dev/null)" != "$want $at" ]; then
      nats_apply_config "$conf"
    fi
  fi
  at=$(nats_loaded_at) || fail "NATS's monitoring endpoint (127.0.0.1:8222) does not answer"
  printf '%s %s\n' "$want" "$at" >"$record"
  chown "$owner" "$record"
  # The config's place before NATS read it from a folder: nothing mounts it now.
  if [ -f "$APP_DIR/nats-server.conf" ]; then
    rm -f "$APP_DIR/nats-server.conf"
    log "removed $APP_DIR/nats-server.conf (NATS reads $conf)"
  fi
}
with_deploy_lock install_and_bring_up
platform_compose ps --format '{{.Name}} {{.Status}}'
