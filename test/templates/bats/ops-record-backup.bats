#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # stub bodies expand when the stub runs; each test exports its own settings
# `ops backup` recording the backup it took (templates/host/ops/record-backup.sh),
# with install and setpriv stubbed: the folder made the containers' user's,
# the record written as that user, word for word, and a record that cannot
# be written. That it never follows a planted link is proved for real, as
# root, in test/ops/record-backup.test.ts.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export DATA_DIR="$BATS_TEST_TMPDIR/data"
  stub install 'mkdir -p "${!#}"'
  # setpriv: the command after -- runs (as it would with root's rights
  # dropped), unless the test says DENIED.
  stub setpriv '[ -z "$DENIED" ] || exit 1; while [ "$1" != -- ]; do shift; done; shift; exec "$@"'
}

record() { run_ops record-backup DATA_DIR="$DATA_DIR" LAST_BACKUP="$1"; }

@test "the record: the folder the containers' user's, the line written as that user, replacing the last" {
  record "backup-20261207T010000Z downloaded by op@laptop"
  [ "$status" -eq 0 ]
  record "backup-20261207T020000Z uploaded"
  [ "$status" -eq 0 ]
  [ "$(cat "$DATA_DIR/backups/last")" = "backup-20261207T020000Z uploaded" ]
  [ "$(find "$DATA_DIR/backups" -mindepth 1 -printf '%f\n')" = last ]
  [ "$(calls | sed -n 1,2p)" = "install -d -m 0700 -o 10001 -g 10001 $DATA_DIR/backups
setpriv --reuid=10001 --regid=10001 --clear-groups -- sh -c new=\$(mktemp .last.XXXXXX) && cat >\"\$new\" && mv -fT \"\$new\" last" ]
}

@test "a record that cannot be written: the command fails, naming the file" {
  export DENIED=1
  record "backup-20261207T010000Z uploaded"
  [ "$status" -eq 1 ]
  [ "$output" = "platform: ERROR: could not record the backup in $DATA_DIR/backups/last" ]
}
