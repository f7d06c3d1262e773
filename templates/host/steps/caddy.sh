# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/caddy.sh).
# Deploy step "caddy": installs the Caddyfile, its environment and the unit's
# drop-in, each only if it changed and only once the pair validates, then
# reloads Caddy (a reload keeps open connections, and their event streams).
# Inputs (base64): CADDYFILE_B64, PLATFORM_ENV_B64, CADDY_DROPIN_B64.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=caddy

decode CADDYFILE_B64 "$PLATFORM_STAGE/Caddyfile"
decode PLATFORM_ENV_B64 "$PLATFORM_STAGE/platform.env"
decode CADDY_DROPIN_B64 "$PLATFORM_STAGE/platform.conf"
# Validate the pair as Caddy will load it: the Caddyfile with the new values,
# read as the unit's EnvironmentFile= reads them.
if ! (load_env "$PLATFORM_STAGE/platform.env" && caddy validate --config "$PLATFORM_STAGE/Caddyfile" --adapter caddyfile); then
  fail "the new Caddyfile does not validate; Caddy keeps running the old one"
fi
# Access logs hold client addresses: caddy writes them, admins (adm) read them.
install -d -m 0750 -o caddy -g adm /var/log/caddy
dropin_changed=0
if install_file "$PLATFORM_STAGE/platform.conf" /etc/systemd/system/caddy.service.d/platform.conf 0644 root:root; then
  dropin_changed=1
fi
install_file "$PLATFORM_STAGE/platform.env" /etc/caddy/platform.env 0640 root:caddy || true
install_file "$PLATFORM_STAGE/Caddyfile" /etc/caddy/Caddyfile 0644 root:root || true
if [ "$dropin_changed" -eq 1 ]; then systemctl daemon-reload; fi
systemctl enable caddy >/dev/null 2>&1
if ! systemctl is-active --quiet caddy; then
  systemctl start caddy
elif [ "$changed" -eq 1 ]; then
  systemctl reload caddy
fi
echo "caddy: $(systemctl is-active caddy)"
