#!/usr/bin/env bash
# Managed by conversational-platform (templates/host/monitoring/textfile-metrics.sh).
# Do not edit on the host: the next deploy overwrites it.
# Installed as /usr/local/sbin/platform-textfile-metrics. Writes what only
# the host knows as metrics for node_exporter's textfile collector, which
# the Prometheus job "node" reads:
#   platform-textfile-metrics backup   after every scheduled backup, success
#     or failure (ExecStopPost= of platform-backup.service): its result, when
#     it last succeeded, and how far apart its runs are;
#   platform-textfile-metrics host     every minute (platform-textfile-metrics.timer):
#     whether a reboot is pending, and fail2ban's bans.
# Each file is written whole, then renamed into place: node_exporter never
# reads half of one.
set -euo pipefail

TEXTFILE_DIR=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
# Created by unattended-upgrades (and apt) when an update needs a reboot.
REBOOT_REQUIRED_FILE=${REBOOT_REQUIRED_FILE:-/var/run/reboot-required}
# The exit status run.sh gives a backup it skipped (a deploy held the lock):
# neither a success nor a failure (the unit's SuccessExitStatus=).
SKIPPED=75

# write_metrics NAME: stdin as TEXTFILE_DIR/NAME.prom. The collector reads
# only *.prom, so the temporary file (same folder, so the rename is atomic)
# is never read.
write_metrics() {
  local tmp=""
  if ! tmp=$(mktemp "$TEXTFILE_DIR/.$1.XXXXXX") || ! cat >"$tmp" || ! chmod 0644 "$tmp" ||
    ! mv -f "$tmp" "$TEXTFILE_DIR/$1.prom"; then
    if [ -n "$tmp" ]; then rm -f "$tmp"; fi
    echo "platform-textfile-metrics: could not write $TEXTFILE_DIR/$1.prom" >&2
    return 1
  fi
}

# previous_value FILE METRIC: the metric's value in a file written before, if any.
previous_value() {
  [ -f "$1" ] || return 0
  awk -v m="$2" '$1 == m { print $2 }' "$1"
}

# schedule_seconds SCHEDULE: the longest gap between the schedule's next eight
# runs, by systemd's own reading of it (an alert on a backup "twice its
# schedule" old must not fire between two runs of an uneven schedule).
schedule_seconds() {
  local line previous="" gap longest=0 at
  while IFS= read -r line; do
    case "$line" in
      *"Next elapse:"* | *"Iter. #"*) ;;
      *) continue ;;
    esac
    at=$(date -u -d "${line#*: }" +%s) || return 0
    if [ -n "$previous" ]; then
      gap=$((at - previous))
      if [ "$gap" -gt "$longest" ]; then longest=$gap; fi
    fi
    previous=$at
  done < <(TZ=UTC systemd-analyze calendar --iterations=8 "$1" 2>/dev/null)
  if [ "$longest" -gt 0 ]; then echo "$longest"; fi
}

# backup_metrics: from systemd's account of the run that just ended
# (SERVICE_RESULT, EXIT_STATUS) and the schedule (PLATFORM_BACKUP_SCHEDULE).
backup_metrics() {
  local file="$TEXTFILE_DIR/platform-backup.prom" last ok period
  last=$(previous_value "$file" platform_backup_last_success_timestamp_seconds)
  ok=$(previous_value "$file" platform_backup_last_run_success)
  if [ "${EXIT_STATUS:-}" = "$SKIPPED" ]; then
    : # a skipped run changes neither
  elif [ "${SERVICE_RESULT:-}" = success ]; then
    last=$(date -u +%s)
    ok=1
  else
    ok=0
  fi
  period=$(schedule_seconds "${PLATFORM_BACKUP_SCHEDULE:-}")
  {
    if [ -n "$last" ]; then
      echo "# HELP platform_backup_last_success_timestamp_seconds When the scheduled backup last succeeded (Unix time)."
      echo "# TYPE platform_backup_last_success_timestamp_seconds gauge"
      echo "platform_backup_last_success_timestamp_seconds $last"
    fi
    if [ -n "$ok" ]; then
      echo "# HELP platform_backup_last_run_success Whether the last scheduled backup succeeded (1) or failed (0)."
      echo "# TYPE platform_backup_last_run_success gauge"
      echo "platform_backup_last_run_success $ok"
    fi
    if [ -n "$period" ]; then
      echo "# HELP platform_backup_schedule_seconds The longest time between two scheduled backups (stack config backupSchedule)."
      echo "# TYPE platform_backup_schedule_seconds gauge"
      echo "platform_backup_schedule_seconds $period"
    fi
  } | write_metrics platform-backup
}

# fail2ban_metrics: whether fail2ban answers, and the addresses each jail bans now.
fail2ban_metrics() {
  local jails jail banned
  echo "# HELP platform_fail2ban_up Whether fail2ban answered (1) or not (0)."
  echo "# TYPE platform_fail2ban_up gauge"
  if ! jails=$(fail2ban-client status 2>/dev/null); then
    echo "platform_fail2ban_up 0"
    return 0
  fi
  echo "platform_fail2ban_up 1"
  echo "# HELP platform_fail2ban_banned Addresses a fail2ban jail bans now."
  echo "# TYPE platform_fail2ban_banned gauge"
  # "`- Jail list:	sshd, recidive"
  jails=$(sed -n 's/.*Jail list:[[:space:]]*//p' <<<"$jails" | tr ',' ' ')
  for jail in $jails; do
    banned=$(fail2ban-client status "$jail" 2>/dev/null | sed -n 's/.*Currently banned:[[:space:]]*//p')
    if [[ "$banned" =~ ^[0-9]+$ ]]; then echo "platform_fail2ban_banned{jail=\"$jail\"} $banned"; fi
  done
}

host_metrics() {
  {
    echo "# HELP platform_reboot_required Whether installed updates wait for a reboot (1) or not (0)."
    echo "# TYPE platform_reboot_required gauge"
    if [ -e "$REBOOT_REQUIRED_FILE" ]; then echo "platform_reboot_required 1"; else echo "platform_reboot_required 0"; fi
    fail2ban_metrics
  } | write_metrics platform-host
}

case "${1:-}" in
  backup) backup_metrics ;;
  host) host_metrics ;;
  *)
    echo "usage: platform-textfile-metrics backup|host" >&2
    exit 2
    ;;
esac
