#!/usr/bin/env bash
# Managed by conversational-platform (templates/host/backup/run.sh).
# What platform-backup.service runs: the compose stack's backup service
# (dist/backup.cjs, from scripts/backup/scheduled.ts) in a one-off container
# on the stack's network, where NATS is nats:4222.
APP_DIR=$(cd "$(dirname "$0")/.." && pwd)
LOG_PREFIX=platform-backup
# shellcheck source=templates/host/lib.sh
. "$APP_DIR/backup/lib.sh"
# Not while a deploy, restore or purge runs (a restore deletes streams before
# it brings them back): skipped, the next run comes soon. A deploy that
# starts meanwhile is refused, naming the backup. A skip exits 75, which
# the unit counts as no failure and the backup's metrics as no run.
app_file "$APP_DIR/.deploy.lock"
app_file "$APP_DIR/.deploy.lock.holder"
exec 9>>"$APP_DIR/.deploy.lock"
if ! flock -n 9; then
  log "skipped: $(cat "$APP_DIR/.deploy.lock.holder" 2>/dev/null || echo "a deploy") holds the deploy lock"
  exit 75
fi
printf '%s since %s\n' "the scheduled backup" "$(date -u +%FT%TZ)" >"$APP_DIR/.deploy.lock.holder"
platform_compose --profile backup run --rm -T backup
