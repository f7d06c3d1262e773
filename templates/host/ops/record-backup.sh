# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/record-backup.sh).
# `npm run ops -- backup`: records the backup it took in the data directory's
# backups/last, which `status` shows; the scheduled backup (uid 10001, the
# containers' user) replaces the same file, so it is that user's.
# Inputs: DATA_DIR, LAST_BACKUP (the line to record).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
install -d -m 0700 -o 10001 -g 10001 "$DATA_DIR/backups"
printf '%s\n' "$LAST_BACKUP" >"$DATA_DIR/backups/last"
chown 10001:10001 "$DATA_DIR/backups/last"
