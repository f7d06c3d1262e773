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
# COMPOSE_B64, NATS_CONF_B64, NATS_AUTH_B64 (the NATS users), STACK_ENV_B64;
# optional AUDIT_ACTION and AUDIT_DETAIL: a line for the audit log once the
# stack runs on these settings (npm run ops -- rotate).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=stack

cd "$APP_DIR"
decode COMPOSE_B64 "$PLATFORM_STAGE/docker-compose.prod.yml"
mkdir "$PLATFORM_STAGE/nats"
decode NATS_CONF_B64 "$PLATFORM_STAGE/nats/nats-server.conf"
decode NATS_AUTH_B64 "$PLATFORM_STAGE/nats/nats-auth.conf"
decode STACK_ENV_B64 "$PLATFORM_STAGE/.env"
ensure_image "$API_IMAGE" apiImage
ensure_image "$NATS_IMAGE" natsImage
API_RELEASE="releases/$RELEASE_ID" docker compose --project-directory "$APP_DIR" \
  -f "$PLATFORM_STAGE/docker-compose.prod.yml" --env-file "$PLATFORM_STAGE/.env" config -q
# The config with the users it includes, as the server will read them.
chmod 0755 "$PLATFORM_STAGE/nats"
chmod 0644 "$PLATFORM_STAGE/nats/"*
docker run --rm --network none -v "$PLATFORM_STAGE/nats:/etc/nats:ro" "$NATS_IMAGE" -c /etc/nats/nats-server.conf -t
owner=$(stat -c %U:%G "$APP_DIR")

# Under the deploy lock, so an ops deploy or rollback never sees half of it.
# The release: pulumi up puts its bundle in service when that bundle changed
# since its last deploy (pulumi-release); otherwise it keeps the release in
# service, which an ops deploy or rollback may have changed since.
install_and_bring_up() {
  local legacy_token
  legacy_token=$(nats_legacy_token)
  install_file "$PLATFORM_STAGE/docker-compose.prod.yml" "$APP_DIR/docker-compose.prod.yml" 0644 "$owner" || true
  install -d -m 0755 -o "${owner%%:*}" -g "${owner##*:}" "$APP_DIR/nats"
  # The users' file first: the server reads it through the main config's include.
  # Hashes only, no secret: readable by the NATS container's user.
  install_file "$PLATFORM_STAGE/nats/nats-auth.conf" "$APP_DIR/nats/nats-auth.conf" 0644 "$owner" || true
  install_file "$PLATFORM_STAGE/nats/nats-server.conf" "$APP_DIR/nats/nats-server.conf" 0644 "$owner" || true
  install_file "$PLATFORM_STAGE/.env" "$APP_DIR/.env" 0600 "$owner" || true
  local in_service shipped release
  in_service=$(cat "$APP_DIR/current-release" 2>/dev/null || true)
  shipped=$(cat "$APP_DIR/pulumi-release" 2>/dev/null || true)
  release=$(release_to_serve "$RELEASE_ID" "$in_service" "$shipped")
  [ "$release" = "$RELEASE_ID" ] || log "keeping release $release in service (from an ops deploy or rollback); this deploy's bundle, $RELEASE_ID, has not changed"
  printf '%s\n' "$RELEASE_ID" >"$PLATFORM_STAGE/pulumi-release"
  install_file "$PLATFORM_STAGE/pulumi-release" "$APP_DIR/pulumi-release" 0644 "$owner" || true
  record_release "$release"
  if [ -n "$legacy_token" ]; then
    # A stack moving from one NATS token to users: the API instances first,
    # logging in with both (the running NATS takes the token, the new one
    # the users), then NATS on its new config; nothing waits for a login.
    log "NATS moves from its single token to users: the API instances first, then NATS"
    NATS_LEGACY_TOKEN=$legacy_token api_one_by_one
  fi
  local started
  started=$(nats_started)
  platform_compose up -d --wait --wait-timeout 120 nats
  nats_runs_installed_config "$started"
  api_one_by_one
  if [ "$in_service" != "$release" ]; then audit deploy "${in_service:-none} -> $release"; fi
  if [ -n "${AUDIT_ACTION:-}" ]; then audit "$AUDIT_ACTION" "${AUDIT_DETAIL:-}"; fi
}

# `up` recreates NATS only when its compose settings change, never for a
# changed config file. What the server loaded is recorded as the file's
# sha256 and the load time the server reports, so a config installed by a
# deploy that failed before applying it is applied by the next one.
# STARTED: the container's start before `up` (nats_started), after the
# install: a server started since then read the installed file already.
nats_runs_installed_config() {
  local record="$APP_DIR/nats/nats-server.conf.loaded" want at now
  want=$(nats_config_digest "$APP_DIR/nats")
  now=$(nats_started)
  if [ "$now" = "$1" ]; then
    at=$(nats_loaded_at) || at=""
    if [ -z "$at" ] || [ "$(cat "$record" 2>/dev/null)" != "$want $at" ]; then
      nats_apply_config "$APP_DIR/nats"
    fi
  fi
  at=$(nats_loaded_at) || fail "NATS's monitoring endpoint (127.0.0.1:8222 in its container) does not answer"
  printf '%s %s\n' "$want" "$at" >"$record"
  chown "$owner" "$record"
  # The config's place before NATS read it from a folder: nothing mounts it now.
  if [ -f "$APP_DIR/nats-server.conf" ]; then
    rm -f "$APP_DIR/nats-server.conf"
    log "removed $APP_DIR/nats-server.conf (NATS reads $APP_DIR/nats/nats-server.conf)"
  fi
}
# nats_legacy_token: the token of a stack whose installed NATS config still
# reads one token from the environment (before NATS had users); empty otherwise.
nats_legacy_token() {
  # shellcheck disable=SC2016 # the old config's own text, not a shell variable
  if grep -q '^ *token: \$NATS_TOKEN' "$APP_DIR/nats/nats-server.conf" 2>/dev/null; then
    sed -n 's/^NATS_TOKEN=//p' "$APP_DIR/.env"
  fi
}

with_deploy_lock install_and_bring_up
platform_compose ps --format '{{.Name}} {{.Status}}'
