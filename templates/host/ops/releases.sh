# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/releases.sh).
# `npm run ops -- releases` and `rollback`: the releases on this host (id and
# install time, newest first), the one in service, and the audit log's tail.
# Inputs: APP_DIR.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"

echo "== current"
cat "$APP_DIR/current-release" 2>/dev/null || true
echo "== releases"
for dir in "$APP_DIR"/releases/*/; do
  if [ -f "$dir/api.cjs" ]; then printf '%s\t%s\n' "$(basename "$dir")" "$(date -u -r "$dir/api.cjs" +%FT%TZ)"; fi
done | sort -t "$(printf '\t')" -k2 -r
echo "== audit"
tail -n 100 "$APP_DIR/audit.log" 2>/dev/null || true
