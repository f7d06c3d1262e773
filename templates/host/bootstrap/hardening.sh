# shellcheck shell=bash disable=SC2034,SC2154 # shared with the bootstrap: it sets here and home, and reads "changed"
# Managed by conversational-platform (templates/host/bootstrap/hardening.sh).
# Hardening the host itself: security tooling and updates, kernel and
# network settings, and the smaller measures Lynis checks. Sourced by the
# bootstrap after lib.sh and packages.sh; here is the folder of the files
# it installs, home the deploy user's home (set_up_deploy_user).

# install_security_tooling: firewall, ban on repeated failures, automatic
# security updates, package integrity checks, process accounting, a tmp per
# user; then the security updates a fresh image is often weeks behind on
# (only those; the same job runs daily).
install_security_tooling() {
  apt_install ca-certificates curl gnupg ufw fail2ban unattended-upgrades logrotate \
    apt-listchanges apt-show-versions needrestart debsums acct sysstat libpam-tmpdir libpam-pwquality \
    rkhunter aide aide-common python3-systemd
  unattended-upgrade >/dev/null 2>&1 || log "unattended-upgrade reported a problem; see /var/log/unattended-upgrades/"
}

# set_up_automatic_updates CONF_DIR: the distribution's security updates, and
# Docker's and Caddy's own repositories' when they are the source
# (PACKAGE_SOURCE official), in apt's CONF_DIR (/etc/apt/apt.conf.d).
set_up_automatic_updates() {
  local dir=$1
  install_file "$here/apt/20auto-upgrades" "$dir/20auto-upgrades" 0644 root:root || true
  install_file "$here/apt/52platform-unattended-upgrades" "$dir/52platform-unattended-upgrades" 0644 root:root || true
  if [ "$PACKAGE_SOURCE" = official ]; then
    install_file "$here/apt/53platform-vendor-upgrades" "$dir/53platform-vendor-upgrades" 0644 root:root || true
  elif [ -e "$dir/53platform-vendor-upgrades" ]; then
    rm -f "$dir/53platform-vendor-upgrades"
    log "removed $dir/53platform-vendor-upgrades (packages come from the distribution)"
    changed=1
  fi
  systemctl enable --now unattended-upgrades >/dev/null 2>&1 || true
}

# sysctl_file_valid FILE: every setting is "key = number(s)", and the kernel
# knows every network key (a kernel built without a feature, such as Yama,
# may lack one of the kernel-wide ones, and a container sees none of those).
# Outputs are read whole, not piped to grep -q: under pipefail a pipe's
# status would be sysctl's, whatever grep found.
sysctl_file_valid() {
  local settings complaints
  settings=$(grep -vE '^\s*(#|$)' "$1" || true)
  if [ -n "$settings" ] && grep -qvE '^[a-z0-9_.]+ = [0-9]+( [0-9]+)*$' <<<"$settings"; then return 1; fi
  complaints=$(sysctl --dry-run -p "$1" 2>&1 >/dev/null || true)
  complaints=$(grep -v 'cannot stat /proc/sys/\(kernel\|fs\|dev\|net/core\)/' <<<"$complaints" || true)
  [ -z "$complaints" ]
}

# apply_sysctl FILE: the settings in FILE in force, on every run (it changes
# nothing when they are); in a container only its own network namespace's.
apply_sysctl() {
  if systemd-detect-virt --container --quiet; then
    grep -E '^net\.ipv[46]\.' "$1" | sysctl -q -p - >/dev/null
  else
    sysctl -q -p "$1" >/dev/null || log "some sysctl keys are not supported by this kernel"
  fi
}

# set_login_def FILE KEY VALUE: KEY set to VALUE in FILE (login.defs's format), once.
set_login_def() {
  if ! grep -qE "^$2\s+$3\$" "$1"; then
    sed -i -E "/^#?\s*$2\s/d" "$1"
    printf '%s\t\t%s\n' "$2" "$3" >>"$1"
    changed=1
  fi
}

# restrict MODE PATH...: each PATH that exists given MODE, if it has another.
restrict() {
  local mode=$1 path
  shift
  for path in "$@"; do
    if [ -e "$path" ] && [ "$(stat -c %a "$path")" != "$mode" ]; then
      chmod "$mode" "$path"
      changed=1
    fi
  done
}

# add_own_hostname HOSTS NAME: NAME resolves locally through HOSTS (sudo and mail use it).
add_own_hostname() {
  if ! grep -qE "\s$2(\s|\$)" "$1"; then
    printf '127.0.1.1\t%s\n' "$2" >>"$1"
    changed=1
  fi
}

# strong_aide_checksums CONF: AIDE with SHA-256 and SHA-512 checksums only
# (its default also computes weak ones such as MD5).
strong_aide_checksums() {
  if grep -qE '^Checksums = H$' "$1" 2>/dev/null; then
    sed -i -E 's/^Checksums = H$/Checksums = sha256+sha512/' "$1"
    changed=1
  fi
}

# build_aide_database DB: AIDE's database (DB) built in the background unless
# it exists or is being built (it reads the whole disk).
build_aide_database() {
  if [ ! -e "$1" ] && ! systemctl is-active --quiet platform-aideinit; then
    systemd-run --unit=platform-aideinit --description="Build the AIDE database" aideinit --yes --force >/dev/null
    log "building the AIDE database in the background (unit platform-aideinit)"
    changed=1
  fi
}

# enable_sysstat DEFAULTS: sysstat's collection turned on in its defaults file.
enable_sysstat() {
  if [ -f "$1" ] && grep -q '^ENABLED="false"' "$1"; then
    sed -i 's/^ENABLED="false"/ENABLED="true"/' "$1"
    changed=1
  fi
}

# harden_kernel: kernel and network settings, validated, then in force.
harden_kernel() {
  install_file "$here/sysctl/99-platform.conf" /etc/sysctl.d/99-platform.conf 0644 root:root sysctl_file_valid || true
  apply_sysctl /etc/sysctl.d/99-platform.conf
}

# take_smaller_measures: each closes something Lynis checks.
take_smaller_measures() {
  local banner compiler path
  # Unused network protocols and storage that a server never needs.
  install_file "$here/security/modprobe-blacklist.conf" /etc/modprobe.d/platform-blacklist.conf 0644 root:root || true
  # No core dumps, from sessions, shells or services: a dump of the API could
  # hold keys. An idle interactive shell logs out after 15 minutes.
  install_file "$here/security/limits-nocore.conf" /etc/security/limits.d/90-platform-nocore.conf 0644 root:root || true
  install_file "$here/security/coredump.conf" /etc/systemd/coredump.conf.d/90-platform.conf 0644 root:root || true
  install_file "$here/security/profile-session.sh" /etc/profile.d/platform-session.sh 0644 root:root sh -n || true
  # login.defs: new files private to their group; password hashing rounds and
  # ageing, for any account that is ever given a password.
  set_login_def /etc/login.defs UMASK 027
  set_login_def /etc/login.defs SHA_CRYPT_MIN_ROUNDS 5000
  set_login_def /etc/login.defs SHA_CRYPT_MAX_ROUNDS 100000
  set_login_def /etc/login.defs PASS_MIN_DAYS 1
  set_login_def /etc/login.defs PASS_MAX_DAYS 365
  # Home directories are not for others to read.
  restrict 750 "$home"
  add_own_hostname /etc/hosts "$(hostname)"
  # A legal banner before login (the template without its "#" lines).
  banner=$(mktemp)
  grep -v '^#' "$here/security/issue" >"$banner"
  install_file "$banner" /etc/issue 0644 root:root || true
  install_file "$banner" /etc/issue.net 0644 root:root || true
  rm -f "$banner"
  # Files only root should read or change: cron tables, sshd's configuration.
  restrict 600 /etc/crontab /etc/ssh/sshd_config
  restrict 700 /etc/cron.d /etc/cron.daily /etc/cron.hourly /etc/cron.weekly /etc/cron.monthly
  # Compilers for root only: nothing on this host builds code (images are
  # built elsewhere), and an intruder's first step is often to compile.
  for compiler in as gcc cc c++ g++ clang; do
    path=$(command -v "$compiler" || true)
    if [ -n "$path" ]; then restrict 750 "$(readlink -f "$path")"; fi
  done
  # File integrity: AIDE's database of the system's files, built once in the
  # background (it reads the whole disk); its daily check compares against it.
  strong_aide_checksums /etc/aide/aide.conf
  build_aide_database /var/lib/aide/aide.db
  # Process accounting and system statistics, for after-the-fact questions.
  enable_sysstat /etc/default/sysstat
  systemctl enable --now acct sysstat >/dev/null 2>&1 || true
}

# logrotate_file_valid FILE: logrotate -d exits 0 on unknown directives; its
# "error:" lines tell (read whole: under pipefail a pipe's status would be logrotate's).
logrotate_file_valid() {
  local report
  report=$(logrotate -d "$1" 2>&1 || true)
  ! grep -q '^error:' <<<"$report"
}

# set_up_log_rotation: the platform's logs rotated, the file validated first.
set_up_log_rotation() {
  install_file "$here/logrotate/platform" /etc/logrotate.d/platform 0644 root:root logrotate_file_valid || true
}
