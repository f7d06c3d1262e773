# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/status.sh).
# `npm run ops -- status`: what the platform looks like from the host, in
# sections the command reads ("== name" then its lines): the API through
# Caddy, each API instance's health details, the containers, the release in service, JetStream's usage and
# limits, the data directory's disk use, the certificate's expiry, the last
# backup and the backup timer. Runs as root (Caddy's files are not the deploy user's).
# Inputs: APP_DIR, DATA_DIR; API_HOST, HTTPS_PORT and CADDY_DATA where they
# differ from a host's (empty: from /etc/caddy/platform.env, 443, Caddy's
# data folder), as for the stack that npm run local runs.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"

api_host=${API_HOST:-$(caddy_api_host /etc/caddy/platform.env)}
https_port=${HTTPS_PORT:-443}
caddy_data=${CADDY_DATA:-/var/lib/caddy/.local/share/caddy}
echo "== api_host"
echo "$api_host"
echo "== health"
# Through Caddy and TLS here, whatever DNS says; -k: the certificate is its own section.
curl -sk --max-time 5 --resolve "$api_host:$https_port:127.0.0.1" "https://$api_host:$https_port/health" -w '\n%{http_code}\n' || echo 000
echo "== instances"
# Each API instance's own view, which only the host can read: port, its
# /health/details, HTTP status (000: not answering), tab-separated.
for port in 8081 8082; do
  printf '%s\t%s\n' "$port" "$(curl -s --max-time 5 -w '\t%{http_code}' "http://127.0.0.1:$port/health/details" || true)"
done
echo "== containers"
# (platform_compose stops the script when no release is recorded yet.)
if [ -f "$APP_DIR/current-release" ]; then platform_compose ps --all --format json 2>/dev/null || true; fi
echo "== release"
cat "$APP_DIR/current-release" 2>/dev/null || true
echo "== jetstream"
# Inside the NATS container: its monitoring port is not published.
if [ -f "$APP_DIR/current-release" ]; then nats_monitor jsz || true; fi
echo
echo "== disk"
# Each section says what it can and the next ones still come (pipefail would end the script here).
{ du -sb "$DATA_DIR" 2>/dev/null || true; } | cut -f1
{ df -B1 --output=avail "$DATA_DIR" 2>/dev/null || true; } | tail -n 1
echo "== certificate"
# No certificates folder before Caddy has its first certificate (one pending, say).
cert=$({ find "$caddy_data/certificates" -name "$api_host.crt" 2>/dev/null || true; } | head -n 1)
if [ -n "$cert" ]; then
  openssl x509 -noout -enddate -issuer -in "$cert"
fi
echo "== backup"
# Read as the containers' user, whose folder it is (entered as root: $DATA_DIR
# is root's alone), so a link planted there shows nothing root alone may read.
(cd "$DATA_DIR/backups" && setpriv --reuid=10001 --regid=10001 --clear-groups -- head -c 4096 last) 2>/dev/null || true
echo "== backup_timer"
# The scheduled backup (none on the stack npm run local runs): next run, and how the last one ended.
if systemctl cat platform-backup.timer >/dev/null 2>&1; then
  echo "next=$(systemctl show platform-backup.timer -P NextElapseUSecRealtime)"
  echo "result=$(systemctl show platform-backup.service -P Result)"
  echo "finished=$(systemctl show platform-backup.service -P ExecMainExitTimestamp)"
fi
