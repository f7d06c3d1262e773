# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/backups.sh).
# Deploy step "backups": installs the scheduled backup (the bundle uploaded
# as $APP_DIR/upload-backup.cjs, the script the service runs, the bucket's
# settings when the stack has a bucket) and the systemd service and timer
# that run it, checking the schedule with systemd first.
# Inputs: APP_DIR, DATA_DIR, BUNDLE_SHA256, SCHEDULE, SERVICE_B64, TIMER_B64,
# RUN_B64, BUCKET_ENV_B64 (empty: no bucket; backups stay on the host),
# RECIPIENTS_ENV_B64 (who backups are encrypted to; an empty list: not encrypted).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=backups

owner=$(stat -c %U:%G "$APP_DIR")
upload="$APP_DIR/upload-backup.cjs"
if [ -f "$upload" ]; then
  [ "$(sha256sum <"$upload" | cut -d' ' -f1)" = "$BUNDLE_SHA256" ] ||
    fail "$upload is not the backup bundle that was sent (its checksum differs): deploy again"
  install -d -m 0755 -o "${owner%%:*}" -g "${owner##*:}" "$APP_DIR/backup"
  install_file "$upload" "$APP_DIR/backup/backup.cjs" 0644 "$owner" || true
  rm -f "$upload"
fi
install_file "$PLATFORM_STAGE/lib.sh" "$APP_DIR/backup/lib.sh" 0644 "$owner" || true
decode RUN_B64 "$PLATFORM_STAGE/run.sh"
install_file "$PLATFORM_STAGE/run.sh" "$APP_DIR/backup/run.sh" 0755 "$owner" || true
# Compose reads it for every command, so it is the deploy user's (who holds the stack's secrets already).
if [ -n "$BUCKET_ENV_B64" ]; then
  decode BUCKET_ENV_B64 "$PLATFORM_STAGE/bucket.env"
  install_file "$PLATFORM_STAGE/bucket.env" "$APP_DIR/backup/bucket.env" 0600 "$owner" || true
elif [ -f "$APP_DIR/backup/bucket.env" ]; then
  rm -f "$APP_DIR/backup/bucket.env"
  log "removed the bucket settings: backups stay on the host"
fi
# Public keys, but kept like the bucket's: whoever knows them can make a backup that decrypts.
decode RECIPIENTS_ENV_B64 "$PLATFORM_STAGE/recipients.env"
install_file "$PLATFORM_STAGE/recipients.env" "$APP_DIR/backup/recipients.env" 0600 "$owner" || true
install -d -m 0700 -o 10001 -g 10001 "$DATA_DIR/backups"

systemd-analyze calendar "$SCHEDULE" >/dev/null 2>&1 ||
  fail "backupSchedule \"$SCHEDULE\" is not a calendar expression systemd knows (e.g. hourly, daily, *:0/30): pulumi config set backupSchedule hourly"
decode SERVICE_B64 "$PLATFORM_STAGE/service.template"
decode TIMER_B64 "$PLATFORM_STAGE/timer.template"
render "$PLATFORM_STAGE/service.template" "APP_DIR=$APP_DIR" "SCHEDULE=$SCHEDULE" >"$PLATFORM_STAGE/platform-backup.service"
render "$PLATFORM_STAGE/timer.template" "SCHEDULE=$SCHEDULE" >"$PLATFORM_STAGE/platform-backup.timer"
units=0
install_file "$PLATFORM_STAGE/platform-backup.service" /etc/systemd/system/platform-backup.service 0644 root:root && units=1
install_file "$PLATFORM_STAGE/platform-backup.timer" /etc/systemd/system/platform-backup.timer 0644 root:root && units=1
if [ "$units" = 1 ]; then systemctl daemon-reload; fi
systemctl enable --quiet platform-backup.timer
# A changed schedule takes effect now, not at the next boot.
if [ "$units" = 1 ]; then systemctl restart platform-backup.timer; else systemctl start platform-backup.timer; fi
log "scheduled ($SCHEDULE); next: $(systemctl show platform-backup.timer -P NextElapseUSecRealtime)"
