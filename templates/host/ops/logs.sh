# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/logs.sh).
# `npm run ops -- logs [api|nats|caddy|all]`: the API instances' and NATS's
# container logs (each line labelled with its instance by compose, with a
# timestamp) and Caddy's access log (labelled "caddy |"), interleaved when
# followed. Runs as root: the access log is caddy:adm.
# Inputs: APP_DIR, SERVICE (api, nats, caddy or all), FOLLOW (yes or no),
# SINCE (e.g. 10m; empty: the last TAIL lines), TAIL, GREP (a pattern, or
# empty), ACCESS_LOG (empty: Caddy's on a host).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"

case $SERVICE in
  api) services=(api-1 api-2) ;;
  nats) services=(nats) ;;
  caddy) services=() ;;
  all) services=(api-1 api-2 nats) ;;
  *) fail "no service $SERVICE: use api, nats, caddy or all" ;;
esac
compose_args=(logs --timestamps --no-color)
tail_args=(-n "$TAIL")
if [ -n "$SINCE" ]; then compose_args+=(--since "$SINCE"); else compose_args+=(--tail "$TAIL"); fi
if [ "$FOLLOW" = yes ]; then
  compose_args+=(--follow)
  tail_args+=(-F)
fi

filter() {
  if [ -n "$GREP" ]; then grep --line-buffered -E -- "$GREP" || true; else cat; fi
}

pids=()
if [ ${#services[@]} -gt 0 ]; then
  # Compose erases lines (ESC [2K) even without a terminal: plain text only.
  platform_compose "${compose_args[@]}" "${services[@]}" 2>&1 | sed -u 's/\x1b\[[0-9;]*[A-Za-z]//g' | filter &
  pids+=($!)
fi
if [ "$SERVICE" = caddy ] || [ "$SERVICE" = all ]; then
  tail "${tail_args[@]}" "${ACCESS_LOG:-/var/log/caddy/api-access.log}" 2>/dev/null | sed -u 's/^/caddy | /' | filter &
  pids+=($!)
fi
wait "${pids[@]}"
