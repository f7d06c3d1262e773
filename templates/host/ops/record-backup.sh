# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ops/record-backup.sh).
# `npm run ops -- backup`: records the backup it took in the data directory's
# backups/last, which `status` shows; the scheduled backup (uid 10001, the
# containers' user) replaces the same file, so it is that user's.
# That folder is the containers' user's to write: a link planted there must
# not lead root anywhere. So the record is written as that user, with root's
# rights dropped (setpriv) once root has entered the folder (its parent is
# root's alone), and only ever to a new file renamed over the old (a rename
# replaces a link, it never follows one).
# Inputs: DATA_DIR, LAST_BACKUP (the line to record).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
CONTAINER_UID=10001
# $DATA_DIR is root's (0750): nobody else can put a link in place of this folder.
install -d -m 0700 -o "$CONTAINER_UID" -g "$CONTAINER_UID" "$DATA_DIR/backups"
cd "$DATA_DIR/backups"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' "$LAST_BACKUP" |
  setpriv --reuid="$CONTAINER_UID" --regid="$CONTAINER_UID" --clear-groups -- \
    sh -c 'new=$(mktemp .last.XXXXXX) && cat >"$new" && mv -fT "$new" last' ||
  fail "could not record the backup in $DATA_DIR/backups/last"
