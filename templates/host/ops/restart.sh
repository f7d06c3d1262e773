# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/restart.sh).
# `npm run ops -- restart api|nats|caddy`: the API instances one at a time
# (each healthy before the next), NATS (the API reconnects and its clients
# retry), or Caddy by a reload (which keeps open streams). Under the deploy
# lock, and audited.
# Inputs: APP_DIR, SERVICE, ACTOR.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=restart

restart_service() {
  case $SERVICE in
    api)
      local api
      for api in api-1 api-2; do
        platform_compose up -d --no-deps --wait --wait-timeout 120 --force-recreate "$api"
      done
      ;;
    nats)
      platform_compose restart nats
      platform_compose up -d --wait --wait-timeout 120 nats
      ;;
    caddy) systemctl reload caddy ;;
    *) fail "no service $SERVICE: restart api, nats or caddy" ;;
  esac
  audit restart "$SERVICE"
  log "$SERVICE restarted"
}

with_deploy_lock restart_service
