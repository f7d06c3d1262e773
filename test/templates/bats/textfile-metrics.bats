#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016 # stubs run later: their single-quoted bodies expand then
# The platform's textfile metrics (templates/host/monitoring/textfile-metrics.sh):
# what the backup service's ExecStopPost= and the host metrics' timer write
# for node_exporter, with systemd-analyze and fail2ban-client stubbed, each
# file checked by promtool's own linter.

bats_require_minimum_version 1.5.0

SCRIPT="$BATS_TEST_DIRNAME/../../../templates/host/monitoring/textfile-metrics.sh"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export TEXTFILE_DIR="$BATS_TEST_TMPDIR/textfile" REBOOT_REQUIRED_FILE="$BATS_TEST_TMPDIR/reboot-required"
  mkdir -p "$TEXTFILE_DIR"
  # An hourly schedule, as systemd prints it (its first lines are not times).
  stub systemd-analyze 'printf "%s\n" "  Original form: hourly" "Normalized form: *-*-* *:00:00" \
    "    Next elapse: Mon 2026-12-07 13:00:00 UTC" "       From now: 15min left" \
    "       Iter. #2: Mon 2026-12-07 14:00:00 UTC" "       Iter. #3: Mon 2026-12-07 15:00:00 UTC"'
}

# backup_run RESULT [EXIT_STATUS]: the script as ExecStopPost= runs it after a backup.
backup_run() {
  run env SERVICE_RESULT="$1" EXIT_STATUS="${2:-0}" PLATFORM_BACKUP_SCHEDULE=hourly bash "$SCRIPT" backup
}
metrics() { cat "$TEXTFILE_DIR/$1.prom"; }
value() { awk -v m="$2" '$1 == m { print $2 }' "$TEXTFILE_DIR/$1.prom"; }
# lints FILE: promtool's exposition-format check passes, and nothing but the file is left in the folder.
lints() {
  promtool check metrics <"$TEXTFILE_DIR/$1.prom"
  [ "$(ls -A "$TEXTFILE_DIR")" = "$1.prom" ]
}

@test "a backup that succeeded: when, that it did, and the schedule's period, asked of systemd in UTC" {
  before=$(date -u +%s)
  backup_run success
  [ "$status" -eq 0 ]
  [ "$(value platform-backup platform_backup_last_success_timestamp_seconds)" -ge "$before" ]
  [ "$(value platform-backup platform_backup_last_run_success)" = 1 ]
  [ "$(value platform-backup platform_backup_schedule_seconds)" = 3600 ]
  [ "$(calls)" = "systemd-analyze calendar --iterations=8 hourly" ]
  lints platform-backup
  [ "$(stat -c %a "$TEXTFILE_DIR/platform-backup.prom")" = 644 ]
}

@test "a backup that failed after one that succeeded: the success's time kept, the run a failure" {
  printf '%s\n' "platform_backup_last_success_timestamp_seconds 1796644800" "platform_backup_last_run_success 1" \
    >"$TEXTFILE_DIR/platform-backup.prom"
  backup_run exit-code 1
  [ "$status" -eq 0 ]
  [ "$(value platform-backup platform_backup_last_success_timestamp_seconds)" = 1796644800 ]
  [ "$(value platform-backup platform_backup_last_run_success)" = 0 ]
  lints platform-backup
}

@test "a first backup that timed out: a failed run, and no success time at all" {
  backup_run timeout
  [ "$status" -eq 0 ]
  [ "$(value platform-backup platform_backup_last_run_success)" = 0 ]
  [ -z "$(value platform-backup platform_backup_last_success_timestamp_seconds)" ]
  lints platform-backup
}

@test "a backup skipped for a deploy (exit 75): neither a success nor a failure" {
  printf '%s\n' "platform_backup_last_success_timestamp_seconds 1796644800" "platform_backup_last_run_success 0" \
    >"$TEXTFILE_DIR/platform-backup.prom"
  backup_run success 75
  [ "$(value platform-backup platform_backup_last_success_timestamp_seconds)" = 1796644800 ]
  [ "$(value platform-backup platform_backup_last_run_success)" = 0 ]
}

@test "an uneven schedule: its longest gap, so twice the schedule is never shorter than a real wait" {
  stub systemd-analyze 'printf "%s\n" "    Next elapse: Mon 2026-12-07 03:00:00 UTC" "       Iter. #2: Fri 2026-12-11 03:00:00 UTC" \
    "       Iter. #3: Mon 2026-12-14 03:00:00 UTC"'
  backup_run success
  [ "$(value platform-backup platform_backup_schedule_seconds)" = $((4 * 86400)) ]
}

@test "a schedule systemd does not read: no period, the rest written" {
  stub systemd-analyze 'exit 1'
  backup_run success
  [ "$status" -eq 0 ]
  [ -z "$(value platform-backup platform_backup_schedule_seconds)" ]
  [ "$(value platform-backup platform_backup_last_run_success)" = 1 ]
}

@test "the host: a reboot pending, and each jail's bans" {
  touch "$REBOOT_REQUIRED_FILE"
  stub fail2ban-client 'case "$*" in
    status) printf "Status\n|- Number of jail:\t2\n\`- Jail list:\tsshd, recidive\n" ;;
    "status sshd") printf "Status for the jail: sshd\n|- Filter\n\`- Actions\n   |- Currently banned:\t3\n   |- Total banned:\t9\n" ;;
    "status recidive") printf "   |- Currently banned:\t0\n" ;;
  esac'
  run bash "$SCRIPT" host
  [ "$status" -eq 0 ]
  [ "$(grep -v '^#' "$TEXTFILE_DIR/platform-host.prom")" = 'platform_reboot_required 1
platform_fail2ban_up 1
platform_fail2ban_banned{jail="sshd"} 3
platform_fail2ban_banned{jail="recidive"} 0' ]
  lints platform-host
}

@test "the host: no reboot pending, and fail2ban not answering" {
  stub fail2ban-client 'exit 255'
  run bash "$SCRIPT" host
  [ "$status" -eq 0 ]
  [ "$(grep -v '^#' "$TEXTFILE_DIR/platform-host.prom")" = 'platform_reboot_required 0
platform_fail2ban_up 0' ]
  lints platform-host
}

@test "a file that cannot be put in place: the last one stays whole, no temporary file is left, the run fails saying where" {
  stub fail2ban-client 'exit 255'
  stub mv 'exit 1'
  echo "platform_reboot_required 1" >"$TEXTFILE_DIR/platform-host.prom"
  run bash "$SCRIPT" host
  [ "$status" -ne 0 ]
  [ "$output" = "platform-textfile-metrics: could not write $TEXTFILE_DIR/platform-host.prom" ]
  [ "$(metrics platform-host)" = "platform_reboot_required 1" ]
  [ "$(ls -A "$TEXTFILE_DIR")" = platform-host.prom ]
}

@test "no textfile folder (node_exporter not installed yet): the run fails saying where" {
  stub fail2ban-client 'exit 255'
  TEXTFILE_DIR="$BATS_TEST_TMPDIR/missing" run bash "$SCRIPT" host
  [ "$status" -ne 0 ]
  [[ "$output" == *"platform-textfile-metrics: could not write $BATS_TEST_TMPDIR/missing/platform-host.prom" ]]
}

@test "anything else: the usage" {
  run bash "$SCRIPT" nonsense
  [ "$status" -eq 2 ]
  [ "$output" = "usage: platform-textfile-metrics backup|host" ]
}
