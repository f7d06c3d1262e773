#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# Hardening the host (templates/host/bootstrap/hardening.sh) and installing
# packages (bootstrap/packages.sh), with the system's commands stubbed and
# install_file recording: what each job runs, word for word, and each
# small decision on files of the test's own.

bats_require_minimum_version 1.5.0

HOST="$BATS_TEST_DIRNAME/../../../templates/host"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  bootstrap_under_test
  record_installs
  export TMPDIR="$BATS_TEST_TMPDIR"
  home="$BATS_TEST_TMPDIR/home/deploy"
  # Packages: those listed in INSTALLED_PACKAGES are installed.
  stub dpkg-query 'case " $INSTALLED_PACKAGES " in *" ${*: -1} "*) echo "install ok installed" ;; esac'
  stub apt-get
  stub systemctl
  stub sysctl
}

@test "apt_install: nothing when every package is installed" {
  INSTALLED_PACKAGES="curl ufw" run apt_install curl ufw
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(calls)" = 'dpkg-query -W -f=${Status} curl
dpkg-query -W -f=${Status} ufw' ]
}

@test "apt_install: a missing package: the lists updated (an unreachable archive fails), then all installed, waiting for the dpkg lock" {
  INSTALLED_PACKAGES="curl" run apt_install curl ufw
  [ "$status" -eq 0 ]
  [ "$output" = "bootstrap: installed packages: curl ufw" ]
  [ "$(calls)" = 'dpkg-query -W -f=${Status} curl
dpkg-query -W -f=${Status} ufw
apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends curl ufw' ]
  # An archive that cannot be reached stops the bootstrap (which runs with errexit, from lib.sh) before the install.
  stub apt-get '[ "$3" != update ]'
  : >"$CALLS"
  INSTALLED_PACKAGES="curl" run bash -c '. "$0/lib.sh" && . "$0/bootstrap/packages.sh" && apt_install curl ufw' "$HOST"
  [ "$status" -eq 1 ]
  [ "$(tail -1 "$CALLS")" = "apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any" ]
}

@test "security tooling: installed, then the security updates; a failed update run is reported, not fatal" {
  stub unattended-upgrade 'exit 1'
  INSTALLED_PACKAGES="ca-certificates curl gnupg ufw fail2ban unattended-upgrades logrotate apt-listchanges apt-show-versions needrestart debsums acct sysstat libpam-tmpdir libpam-pwquality rkhunter aide aide-common python3-systemd" \
    run install_security_tooling
  [ "$status" -eq 0 ]
  [ "$output" = "bootstrap: unattended-upgrade reported a problem; see /var/log/unattended-upgrades/" ]
  [ "$(grep -c '^dpkg-query' "$CALLS")" -eq 19 ]
  [ "$(tail -1 "$CALLS")" = "unattended-upgrade" ]
}

@test "automatic updates from official sources: the vendors' repositories too" {
  PACKAGE_SOURCE=official run set_up_automatic_updates "$BATS_TEST_TMPDIR/apt"
  [ "$status" -eq 0 ]
  [ "$(calls | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "install_file TMP/apt/20auto-upgrades 0644 root:root
install_file TMP/apt/52platform-unattended-upgrades 0644 root:root
install_file TMP/apt/53platform-vendor-upgrades 0644 root:root
systemctl enable --now unattended-upgrades" ]
}

@test "automatic updates from the distribution: the vendors' file goes, if an earlier run left it" {
  mkdir -p "$BATS_TEST_TMPDIR/apt"
  echo old >"$BATS_TEST_TMPDIR/apt/53platform-vendor-upgrades"
  changed=0
  PACKAGE_SOURCE=distro set_up_automatic_updates "$BATS_TEST_TMPDIR/apt" >"$BATS_TEST_TMPDIR/out"
  [ "$changed" -eq 1 ]
  [ ! -e "$BATS_TEST_TMPDIR/apt/53platform-vendor-upgrades" ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "bootstrap: removed $BATS_TEST_TMPDIR/apt/53platform-vendor-upgrades (packages come from the distribution)" ]
  [ "$(grep -c 53platform "$CALLS")" -eq 0 ]
  changed=0
  PACKAGE_SOURCE=distro set_up_automatic_updates "$BATS_TEST_TMPDIR/apt" >/dev/null
  [ "$changed" -eq 0 ]
}

@test "sysctl_file_valid: numbers only, and network keys the kernel knows; kernel-wide ones it lacks are tolerated" {
  rm "$BATS_TEST_TMPDIR/bin/sysctl"
  local file="$BATS_TEST_TMPDIR/99.conf"
  printf '# why\nnet.ipv4.tcp_syncookies = 1\nkernel.platform_no_such_key = 1\n' >"$file"
  sysctl_file_valid "$file"
  printf 'net.ipv4.tcp_syncookies = yes\n' >"$file"
  run sysctl_file_valid "$file"
  [ "$status" -eq 1 ]
  printf 'net.ipv4.platform_no_such_key = 1\n' >"$file"
  run sysctl_file_valid "$file"
  [ "$status" -eq 1 ]
}

@test "apply_sysctl: all settings on a machine; a container's network ones only" {
  local file="$BATS_TEST_TMPDIR/99.conf"
  printf 'kernel.kptr_restrict = 2\nnet.ipv4.tcp_syncookies = 1\nnet.ipv6.conf.all.accept_ra = 0\n' >"$file"
  stub systemd-detect-virt 'exit 1'
  apply_sysctl "$file"
  [ "$(calls)" = "systemd-detect-virt --container --quiet
sysctl -q -p $file" ]
  : >"$CALLS"
  stub systemd-detect-virt
  stub sysctl 'cat >"$BATS_TEST_TMPDIR/sysctl.stdin"'
  apply_sysctl "$file"
  [ "$(calls)" = "systemd-detect-virt --container --quiet
sysctl -q -p -" ]
  [ "$(cat "$BATS_TEST_TMPDIR/sysctl.stdin")" = "net.ipv4.tcp_syncookies = 1
net.ipv6.conf.all.accept_ra = 0" ]
}

@test "apply_sysctl: keys this kernel lacks are reported, not fatal" {
  stub systemd-detect-virt 'exit 1'
  stub sysctl 'exit 255'
  run apply_sysctl "$BATS_TEST_TMPDIR/99.conf"
  [ "$status" -eq 0 ]
  [ "$output" = "bootstrap: some sysctl keys are not supported by this kernel" ]
}

@test "harden_kernel: the settings validated, installed, then in force" {
  stub systemd-detect-virt 'exit 1'
  run harden_kernel
  [ "$(calls)" = "install_file /etc/sysctl.d/99-platform.conf 0644 root:root sysctl_file_valid
systemd-detect-virt --container --quiet
sysctl -q -p /etc/sysctl.d/99-platform.conf" ]
}

@test "set_login_def: a commented or other value replaced, a missing one added, each once" {
  local defs="$BATS_TEST_TMPDIR/login.defs"
  printf '#UMASK\t022\nPASS_MAX_DAYS\t99999\nENCRYPT_METHOD YESCRYPT\n' >"$defs"
  changes_once set_login_def "$defs" UMASK 027
  changes_once set_login_def "$defs" PASS_MAX_DAYS 365
  changes_once set_login_def "$defs" SHA_CRYPT_MIN_ROUNDS 5000
  [ "$(cat "$defs")" = "ENCRYPT_METHOD YESCRYPT
UMASK		027
PASS_MAX_DAYS		365
SHA_CRYPT_MIN_ROUNDS		5000" ]
}

@test "restrict: a path with another mode gets the mode; one with it, or missing, is left" {
  touch "$BATS_TEST_TMPDIR/crontab" "$BATS_TEST_TMPDIR/done"
  chmod 644 "$BATS_TEST_TMPDIR/crontab"
  chmod 600 "$BATS_TEST_TMPDIR/done"
  changed=0
  restrict 600 "$BATS_TEST_TMPDIR/done" "$BATS_TEST_TMPDIR/missing"
  [ "$changed" -eq 0 ]
  restrict 600 "$BATS_TEST_TMPDIR/crontab"
  [ "$changed" -eq 1 ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/crontab")" = 600 ]
}

@test "add_own_hostname: the host's name added to its hosts file, once; a longer name does not count" {
  local hosts="$BATS_TEST_TMPDIR/hosts"
  printf '127.0.0.1\tlocalhost\n10.0.0.5\tchat-1.internal\n' >"$hosts"
  changes_once add_own_hostname "$hosts" chat
  [ "$(tail -1 "$hosts")" = "127.0.1.1	chat" ]
  [ "$(grep -c chat "$hosts")" -eq 2 ]
}

@test "AIDE: strong checksums only, once; its database built in the background unless it exists or is being built" {
  local conf="$BATS_TEST_TMPDIR/aide.conf"
  printf 'Checksums = H\n' >"$conf"
  changes_once strong_aide_checksums "$conf"
  [ "$(cat "$conf")" = "Checksums = sha256+sha512" ]
  stub systemctl 'exit 3'
  stub systemd-run
  run build_aide_database "$BATS_TEST_TMPDIR/aide.db"
  [ "$output" = "bootstrap: building the AIDE database in the background (unit platform-aideinit)" ]
  [ "$(calls)" = "systemctl is-active --quiet platform-aideinit
systemd-run --unit=platform-aideinit --description=Build the AIDE database aideinit --yes --force" ]
  : >"$CALLS"
  stub systemctl
  run build_aide_database "$BATS_TEST_TMPDIR/aide.db"
  [ "$(calls)" = "systemctl is-active --quiet platform-aideinit" ]
  touch "$BATS_TEST_TMPDIR/aide.db"
  : >"$CALLS"
  run build_aide_database "$BATS_TEST_TMPDIR/aide.db"
  [ "$(calls)" = "" ]
}

@test "enable_sysstat: collection turned on, once; no defaults file, nothing" {
  local defaults="$BATS_TEST_TMPDIR/sysstat"
  printf 'ENABLED="false"\n' >"$defaults"
  changes_once enable_sysstat "$defaults"
  [ "$(cat "$defaults")" = 'ENABLED="true"' ]
  changed=0
  enable_sysstat "$BATS_TEST_TMPDIR/none"
  [ "$changed" -eq 0 ]
}

@test "the smaller measures, in order, each on the host's own files" {
  # The helpers tested above, recording; compilers: gcc and cc only.
  for helper in set_login_def restrict add_own_hostname strong_aide_checksums build_aide_database enable_sysstat; do
    eval "$helper() { echo \"$helper \$*\" >>\"\$CALLS\"; }"
  done
  stub hostname 'echo chat-1'
  stub gcc
  stub cc
  mkdir -p "$BATS_TEST_TMPDIR/tools"
  for tool in bash mktemp grep rm readlink cat cp basename; do ln -s "$(command -v "$tool")" "$BATS_TEST_TMPDIR/tools/$tool"; done
  PATH="$BATS_TEST_TMPDIR/bin:$BATS_TEST_TMPDIR/tools" run take_smaller_measures
  [ "$status" -eq 0 ]
  [ "$(calls | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "install_file /etc/modprobe.d/platform-blacklist.conf 0644 root:root
install_file /etc/security/limits.d/90-platform-nocore.conf 0644 root:root
install_file /etc/systemd/coredump.conf.d/90-platform.conf 0644 root:root
install_file /etc/profile.d/platform-session.sh 0644 root:root sh -n
set_login_def /etc/login.defs UMASK 027
set_login_def /etc/login.defs SHA_CRYPT_MIN_ROUNDS 5000
set_login_def /etc/login.defs SHA_CRYPT_MAX_ROUNDS 100000
set_login_def /etc/login.defs PASS_MIN_DAYS 1
set_login_def /etc/login.defs PASS_MAX_DAYS 365
restrict 750 TMP/home/deploy
hostname
add_own_hostname /etc/hosts chat-1
install_file /etc/issue 0644 root:root
install_file /etc/issue.net 0644 root:root
restrict 600 /etc/crontab /etc/ssh/sshd_config
restrict 700 /etc/cron.d /etc/cron.daily /etc/cron.hourly /etc/cron.weekly /etc/cron.monthly
restrict 750 TMP/bin/gcc
restrict 750 TMP/bin/cc
strong_aide_checksums /etc/aide/aide.conf
build_aide_database /var/lib/aide/aide.db
enable_sysstat /etc/default/sysstat
systemctl enable --now acct sysstat" ]
  # The banner: the template without its "#" lines.
  [ "$(installed issue)" = "$(grep -v '^#' "$HOST/security/issue")" ]
  [ "$(installed issue | grep -c '^#')" -eq 0 ]
}

@test "log rotation: validated by logrotate -d, whose error lines count even when it exits 0" {
  run set_up_log_rotation
  [ "$(calls)" = "install_file /etc/logrotate.d/platform 0644 root:root logrotate_file_valid" ]
  logrotate_file_valid "$HOST/logrotate/platform"
  printf '/var/log/x.log {\n  no_such_directive\n}\n' >"$BATS_TEST_TMPDIR/broken"
  run logrotate_file_valid "$BATS_TEST_TMPDIR/broken"
  [ "$status" -eq 1 ]
}
