#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The scheduled backup: the backups step (templates/host/steps/backups.sh)
# that installs it, and the script its service runs
# (templates/host/backup/run.sh), with systemd and docker stubbed and
# install_file recording, word for word.

bats_require_minimum_version 1.5.0

HOST="$BATS_TEST_DIRNAME/../../../templates/host"
BUNDLE="console.log('backup')"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export APP_DIR="$BATS_TEST_TMPDIR/app"
  mkdir -p "$APP_DIR"
  # BAD_SCHEDULE: systemd-analyze refuses the schedule.
  stub systemd-analyze '[ -z "$BAD_SCHEDULE" ]'
  stub systemctl 'if [ "$1" = show ]; then echo "Mon 2026-12-07 02:00:00 UTC"; fi'
  stub install
  stub docker
}

# backups_step [NAME=VALUE...]: the step as a deploy runs it.
backups_step() {
  local dir
  dir=$(stage recorded)
  run env PLATFORM_STAGE="$dir" DATA_DIR=/var/lib/platform-data SCHEDULE=hourly \
    BUNDLE_SHA256="$(printf '%s' "$BUNDLE" | sha256sum | cut -d' ' -f1)" \
    SERVICE_B64="$(base64 -w0 <"$HOST/backup/platform-backup.service")" TIMER_B64="$(base64 -w0 <"$HOST/backup/platform-backup.timer")" \
    RUN_B64="$(base64 -w0 <"$HOST/backup/run.sh")" BUCKET_ENV_B64="" RECIPIENTS_ENV_B64="$(echo 'BACKUP_RECIPIENTS=' | base64 -w0)" \
    "$@" bash "$HOST/steps/backups.sh"
}

here_calls() { calls | sed "s#$BATS_TEST_TMPDIR#TMP#g"; }

@test "a new bundle and changed units: the bundle installed, systemd reloaded, the timer restarted" {
  printf '%s' "$BUNDLE" >"$APP_DIR/upload-backup.cjs"
  backups_step INSTALLED="$APP_DIR/backup/backup.cjs /etc/systemd/system/platform-backup.timer"
  [ "$status" -eq 0 ]
  [ "$output" = "backups: scheduled (hourly); next: Mon 2026-12-07 02:00:00 UTC" ]
  [ ! -e "$APP_DIR/upload-backup.cjs" ]
  [ "$(installed backup.cjs)" = "$BUNDLE" ]
  # Owned like the app's folder (the deploy user's on a host).
  local owner
  owner=$(stat -c %U:%G "$APP_DIR")
  [ "$(here_calls)" = "install -d -m 0755 -o ${owner%%:*} -g ${owner##*:} TMP/app/backup
install_file TMP/app/backup/backup.cjs 0644 $owner
install_file TMP/app/backup/lib.sh 0644 $owner
install_file TMP/app/backup/run.sh 0755 $owner
install_file TMP/app/backup/recipients.env 0600 $owner
install -d -m 0700 -o 10001 -g 10001 /var/lib/platform-data/backups
systemd-analyze calendar hourly
install_file /etc/systemd/system/platform-backup.service 0644 root:root
install_file /etc/systemd/system/platform-backup.timer 0644 root:root
systemctl daemon-reload
systemctl enable --quiet platform-backup.timer
systemctl restart platform-backup.timer
systemctl show platform-backup.timer -P NextElapseUSecRealtime" ]
  installed platform-backup.timer | grep -qx "OnCalendar=hourly"
  installed platform-backup.service | grep -q "$APP_DIR/backup/run.sh"
  # The backup's metrics after every run, with the schedule they measure it against.
  installed platform-backup.service | grep -qx 'Environment="PLATFORM_BACKUP_SCHEDULE=hourly"'
  installed platform-backup.service | grep -qx "ExecStopPost=-/usr/local/sbin/platform-textfile-metrics backup"
}

@test "nothing changed: the timer only started (a no-op when it runs)" {
  backups_step
  [ "$status" -eq 0 ]
  [ "$(here_calls | tail -3)" = "systemctl enable --quiet platform-backup.timer
systemctl start platform-backup.timer
systemctl show platform-backup.timer -P NextElapseUSecRealtime" ]
  [ "$(grep -c 'daemon-reload\|backup.cjs' "$CALLS")" -eq 0 ]
}

@test "an uploaded bundle that is not the one sent stops the step" {
  printf 'other' >"$APP_DIR/upload-backup.cjs"
  backups_step
  [ "$status" -eq 1 ]
  [ "$output" = "backups: ERROR: $APP_DIR/upload-backup.cjs is not the backup bundle that was sent (its checksum differs): deploy again" ]
}

@test "a bucket: its settings installed, private; no bucket any more: they go, backups stay on the host" {
  backups_step BUCKET_ENV_B64="$(echo 'BACKUP_S3_BUCKET=b' | base64 -w0)"
  [ "$status" -eq 0 ]
  grep -qxF "install_file $APP_DIR/backup/bucket.env 0600 $(stat -c %U:%G "$APP_DIR")" "$CALLS"
  [ "$(installed bucket.env)" = "BACKUP_S3_BUCKET=b" ]
  mkdir -p "$APP_DIR/backup"
  echo "BACKUP_S3_BUCKET=b" >"$APP_DIR/backup/bucket.env"
  backups_step
  [ "$status" -eq 0 ]
  [ ! -e "$APP_DIR/backup/bucket.env" ]
  [[ $output == "backups: removed the bucket settings: backups stay on the host"* ]]
}

@test "a schedule systemd does not know stops the step, naming the setting" {
  backups_step SCHEDULE="every tuesday" BAD_SCHEDULE=1
  [ "$status" -eq 1 ]
  [ "$output" = 'backups: ERROR: backupSchedule "every tuesday" is not a calendar expression systemd knows (e.g. hourly, daily, *:0/30): pulumi config set backupSchedule hourly' ]
  [ "$(grep -c '^systemctl' "$CALLS")" -eq 0 ]
}

# installed_run: run.sh and lib.sh where the backups step puts them, a release in service.
installed_run() {
  mkdir -p "$APP_DIR/backup"
  cp "$HOST/backup/run.sh" "$HOST/lib.sh" "$APP_DIR/backup/"
  echo 0000000000a1 >"$APP_DIR/current-release"
}

@test "the scheduled backup: a one-off backup container on the stack, holding the deploy lock" {
  installed_run
  stub docker 'echo "  API_RELEASE=$API_RELEASE, lock holder: $(cat "$APP_DIR/.deploy.lock.holder")" >>"$CALLS"'
  run bash "$APP_DIR/backup/run.sh"
  [ "$status" -eq 0 ]
  [ "$(calls | sed "s#$BATS_TEST_TMPDIR#TMP#g; s/since .*/since T/")" = "docker compose --project-directory TMP/app -f TMP/app/docker-compose.prod.yml --profile backup run --rm -T backup
  API_RELEASE=releases/0000000000a1, lock holder: the scheduled backup since T" ]
}

@test "the scheduled backup while a deploy holds the lock: skipped, saying who holds it" {
  installed_run
  echo "ci since 2026-12-07T01:00:00Z" >"$APP_DIR/.deploy.lock.holder"
  flock "$APP_DIR/.deploy.lock" sleep 60 &
  holder=$!
  until ! flock -n "$APP_DIR/.deploy.lock" true; do sleep 0.05; done
  run bash "$APP_DIR/backup/run.sh"
  kill "$holder"
  # 75: the unit's SuccessExitStatus=, which the backup's metrics count as no run.
  [ "$status" -eq 75 ]
  [ "$output" = "platform-backup: skipped: ci since 2026-12-07T01:00:00Z holds the deploy lock" ]
  [ "$(calls)" = "" ]
}
