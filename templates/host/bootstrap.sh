#!/usr/bin/env bash
# Managed by conversational-platform (templates/host/bootstrap.sh).
# Hardens a fresh Ubuntu 24.04 host (Debian 12 works too) and installs what
# the platform runs on. Idempotent: a second run changes nothing. It never
# locks the operator out: SSH password and root logins are turned off only
# once the deploy user's key is in place, the firewall allows SSH from the
# admin networks before it is enabled, and nothing that decides who may log
# in changes unless the session running it comes from an admin network, on
# the SSH port sshd listens on.
#
# Run as root, from the directory holding the files it installs:
#   DEPLOY_USER=deploy DEPLOY_SSH_KEY="ssh-ed25519 AAAA..." \
#   ADMIN_CIDRS="203.0.113.7/32 2001:db8::/48" bash bootstrap.sh
# Optional: SSH_PORT (22: where sshd listens, and the only port the firewall
# opens to the admin networks), PLATFORM_DATA_DIR (/var/lib/platform-data),
# PACKAGE_SOURCE (official: Docker's and Caddy's own repositories; distro:
# the distribution's packages, for hosts that reach only its archive).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=templates/host/lib.sh
. "$here/lib.sh"
# shellcheck source=templates/host/firewall.sh
. "$here/firewall.sh"
# shellcheck source=templates/host/ssh-access.sh
. "$here/ssh-access.sh"
LOG_PREFIX=bootstrap

DEPLOY_USER=${DEPLOY_USER:?set DEPLOY_USER, e.g. deploy}
DEPLOY_SSH_KEY=${DEPLOY_SSH_KEY:?set DEPLOY_SSH_KEY to the deploy user\'s public key}
ADMIN_CIDRS=${ADMIN_CIDRS:?set ADMIN_CIDRS to the networks allowed to SSH in}
SSH_PORT=${SSH_PORT:-22}
PLATFORM_DATA_DIR=${PLATFORM_DATA_DIR:-/var/lib/platform-data}
PACKAGE_SOURCE=${PACKAGE_SOURCE:-official}
APP_DIR=/opt/conversational-platform
# The containers' fixed unprivileged user (see docker-compose.prod.yml).
CONTAINER_UID=10001

[ "$(id -u)" -eq 0 ] || fail "run as root (sudo bash bootstrap.sh)"

# Bad input stops the run before it changes anything.
if ! [[ $DEPLOY_USER =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || [ "$DEPLOY_USER" = root ]; then
  fail "DEPLOY_USER '$DEPLOY_USER' is not a valid name for the deploy user (lower case, e.g. deploy; not root)"
fi
if [[ $DEPLOY_SSH_KEY == *$'\n'* ]] || ! ssh-keygen -l -f /dev/stdin <<<"$DEPLOY_SSH_KEY" >/dev/null 2>&1; then
  fail "DEPLOY_SSH_KEY is not one OpenSSH public key line (the contents of a .pub file, e.g. ssh-ed25519 AAAA... deploy)"
fi
# No network at all would firewall SSH off for everybody.
[ -n "${ADMIN_CIDRS//[[:space:]]/}" ] || fail "ADMIN_CIDRS names no network; SSH would be closed to everybody"
for cidr in $ADMIN_CIDRS; do
  [[ $cidr =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ || $cidr =~ ^[0-9a-fA-F:]+:[0-9a-fA-F:]*/[0-9]{1,3}$ ]] ||
    fail "ADMIN_CIDRS: '$cidr' is not an address range; write networks as 203.0.113.7/32 or 2001:db8::/48, separated by spaces"
done
if ! [[ $SSH_PORT =~ ^[1-9][0-9]{0,4}$ ]] || [ "$SSH_PORT" -gt 65535 ]; then
  fail "SSH_PORT '$SSH_PORT' is not a port number (1-65535; config sshPort)"
fi
export DEBIAN_FRONTEND=noninteractive

packages_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

# On a new VPS, apt-daily and unattended-upgrades hold the dpkg lock for the
# first minutes after boot: wait for it (up to 10 minutes) instead of failing.
apt_get() {
  apt-get -o DPkg::Lock::Timeout=600 "$@"
}

apt_install() {
  if packages_missing "$@"; then
    # --error-on=any: an archive that cannot be reached stops here, with
    # apt's own message, not later as one failure per package.
    apt_get update -qq --error-on=any
    apt_get install -y -qq --no-install-recommends "$@" >/dev/null
    log "installed packages: $*"
    changed=1
  fi
}

# --- Packages -----------------------------------------------------------
# Security tooling: firewall, ban on repeated failures, automatic security
# updates, package integrity checks, process accounting, a tmp per user.
apt_install ca-certificates curl gnupg ufw fail2ban unattended-upgrades logrotate \
  apt-listchanges apt-show-versions needrestart debsums acct sysstat libpam-tmpdir libpam-pwquality \
  rkhunter aide aide-common python3-systemd

# Security updates now, not at the first nightly run: a fresh image is
# often weeks behind. (Only security updates; the same job runs daily.)
unattended-upgrade >/dev/null 2>&1 || log "unattended-upgrade reported a problem; see /var/log/unattended-upgrades/"

# --- Never locking the operator out -------------------------------------
# From here on, the firewall and the deploy key admit only the admin
# networks, on SSH_PORT: stop before changing either unless sshd listens on
# that port and the session running this comes from an admin network through
# it (the next login would otherwise be refused).
# shellcheck disable=SC2086 # one network a word
admin_list=$(normalize_cidrs $ADMIN_CIDRS) || fail "ADMIN_CIDRS could not be read as networks ($ADMIN_CIDRS): python3 is needed"
mapfile -t admin_networks <<<"$admin_list"
mkdir -p /run/sshd
sshd_ports=$(sshd -T 2>/dev/null | awk '$1 == "port" { print $2 }' | sort -un | tr '\n' ' ')
sshd_ports=${sshd_ports% }
[ -n "$sshd_ports" ] || fail "sshd -T names no port sshd listens on; see: sshd -t"
case " $sshd_ports " in
  *" $SSH_PORT "*) ;;
  *) fail "sshd listens on port ${sshd_ports// /, }, not on SSH_PORT $SSH_PORT (config sshPort), the only port the firewall would open: set sshPort to the port sshd listens on (pulumi config set sshPort ${sshd_ports%% *}); nothing was changed" ;;
esac
session=$(ssh_session_origin "$$")
if [ -n "$session" ]; then
  read -r session_address session_port <<<"$session"
  address_in_cidrs "$session_address" "${admin_networks[@]}" ||
    fail "this session comes from $session_address, which is in none of ADMIN_CIDRS ($ADMIN_CIDRS; config adminCidrs): the firewall and the deploy key would refuse the next login from there. Add it (pulumi config set --path 'adminCidrs[${#admin_networks[@]}]' $session_address/32) and run again; nothing was changed"
  [ "$session_port" = "$SSH_PORT" ] ||
    fail "this session reached SSH on port $session_port, but SSH_PORT is $SSH_PORT (config sshPort): the firewall would close the port it came through. Set sshPort to the port you reach SSH on, or connect on $SSH_PORT; nothing was changed"
else
  log "not run over SSH: no session to check against the admin networks"
fi
# sshd's from= list: the admin networks, as sshd compares them.
deploy_from=$(
  IFS=,
  echo "${admin_networks[*]}"
)

# --- Deploy user --------------------------------------------------------
if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$DEPLOY_USER"
  log "created user $DEPLOY_USER"
  changed=1
fi
# Key-only: a random password nobody knows (a locked account is refused by
# sshd without PAM, and flagged by audits), that never expires (an expired
# password would block even key logins through PAM). Hashed with yescrypt,
# the default of Debian 12 and Ubuntu 24.04 (a hash from an earlier
# bootstrap with sha512crypt's default rounds is replaced: audits flag it).
case "$(getent shadow "$DEPLOY_USER" | cut -d: -f2)" in
  "\$y\$"*) ;;
  *)
    printf '%s:%s\n' "$DEPLOY_USER" "$(head -c 48 /dev/urandom | base64 -w0)" | chpasswd --crypt-method YESCRYPT
    changed=1
    ;;
esac
if [ "$(chage -l "$DEPLOY_USER" | awk -F': ' '/^Maximum/ {print $2}')" != "-1" ]; then
  chage -M -1 -m 0 "$DEPLOY_USER"
  changed=1
fi
home=$(getent passwd "$DEPLOY_USER" | cut -d: -f6)
install -d -m 0700 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
# The deploy key works only from the admin networks (sshd's from=), kept in
# step with ADMIN_CIDRS: a copy of the key is useless anywhere else.
authorized=$(mktemp)
deploy_authorized_keys "$keys" "$DEPLOY_SSH_KEY" "$deploy_from" >"$authorized"
if install_file "$authorized" "$keys" 0600 "$DEPLOY_USER:$DEPLOY_USER"; then
  log "the deploy key in $keys is accepted only from $deploy_from"
fi
rm -f "$authorized"
# sudo's own log of the deploy user's commands is written here.
install -d -m 0750 -o root -g adm /var/log/platform
sudoers=$(mktemp)
render "$here/sudo/90-platform-deploy" "DEPLOY_USER=$DEPLOY_USER" >"$sudoers"
install_file "$sudoers" /etc/sudoers.d/90-platform-deploy 0440 root:root visudo -cqf || true
rm -f "$sudoers"

# --- SSH: key-only, no root --------------------------------------------
# Never lock the operator out: only with the deploy user's key in place.
grep -qxF "from=\"$deploy_from\" $DEPLOY_SSH_KEY" "$keys" || fail "the deploy key is not in $keys; not turning off password and root logins"
ssh_conf=$(mktemp)
render "$here/ssh/00-platform-hardening.conf" "DEPLOY_USER=$DEPLOY_USER" >"$ssh_conf"
validate_sshd() {
  # The whole configuration with the new drop-in in place must be valid.
  local dir
  dir=$(mktemp -d)
  cp -a /etc/ssh/. "$dir/"
  cp "$1" "$dir/sshd_config.d/00-platform-hardening.conf"
  sed "s#/etc/ssh/sshd_config.d#$dir/sshd_config.d#" /etc/ssh/sshd_config >"$dir/sshd_config"
  sshd -t -f "$dir/sshd_config"
  local rc=$?
  rm -rf "$dir"
  return $rc
}
if install_file "$ssh_conf" /etc/ssh/sshd_config.d/00-platform-hardening.conf 0644 root:root validate_sshd; then
  sshd -t || fail "sshd -t failed after the change"
  # Ubuntu 24.04 starts sshd on demand (ssh.socket): reload it only if running.
  systemctl try-reload-or-restart ssh.service
fi
rm -f "$ssh_conf"

# --- Firewall: allow first, then enable ---------------------------------
# ufw applies its own sysctl file whenever it (re)loads, and that file turns
# martian logging off again; leave that setting to 99-platform.conf.
if grep -qE '^net/ipv4/conf/(all|default)/log_martians=0' /etc/ufw/sysctl.conf 2>/dev/null; then
  sed -i -E 's@^(net/ipv4/conf/(all|default)/log_martians=0)@# \1 (set by /etc/sysctl.d/99-platform.conf)@' /etc/ufw/sysctl.conf
  changed=1
fi
ufw default deny incoming >/dev/null
ufw default allow outgoing >/dev/null
ufw allow 80/tcp comment 'HTTP (ACME, redirect)' >/dev/null
ufw allow 443/tcp comment 'HTTPS' >/dev/null
# SSH: exactly one rule per admin network on SSH_PORT, added before any
# other SSH rule (world-open, OpenSSH's profile, an old network) goes. Not
# `limit`: deploys open many SSH connections in a row; SSH is already
# restricted to these networks and fail2ban watches it.
reconcile_ssh_firewall "$SSH_PORT" "$sshd_ports" "${admin_networks[@]}"
if ! ufw status | grep -q "Status: active"; then
  ufw --force enable >/dev/null
  log "firewall enabled"
  changed=1
fi

# --- fail2ban -----------------------------------------------------------
jail=$(mktemp)
render "$here/fail2ban/jail.local" "ADMIN_CIDRS=$ADMIN_CIDRS" "SSH_PORT=$SSH_PORT" >"$jail"
# jail.local, not an edit of jail.conf: package updates replace jail.conf.
if install_file "$jail" /etc/fail2ban/jail.local 0644 root:root; then
  fail2ban-client -t >/dev/null || fail "fail2ban rejects its configuration"
  systemctl enable --now fail2ban >/dev/null 2>&1
  systemctl restart fail2ban
fi
rm -f "$jail"
systemctl is-active --quiet fail2ban || systemctl enable --now fail2ban >/dev/null 2>&1

# --- Automatic security updates ----------------------------------------
install_file "$here/apt/20auto-upgrades" /etc/apt/apt.conf.d/20auto-upgrades 0644 root:root || true
install_file "$here/apt/52platform-unattended-upgrades" /etc/apt/apt.conf.d/52platform-unattended-upgrades 0644 root:root || true
# Docker's and Caddy's own repositories too, when they are the source.
if [ "$PACKAGE_SOURCE" = official ]; then
  install_file "$here/apt/53platform-vendor-upgrades" /etc/apt/apt.conf.d/53platform-vendor-upgrades 0644 root:root || true
elif [ -e /etc/apt/apt.conf.d/53platform-vendor-upgrades ]; then
  rm -f /etc/apt/apt.conf.d/53platform-vendor-upgrades
  log "removed /etc/apt/apt.conf.d/53platform-vendor-upgrades (packages come from the distribution)"
  changed=1
fi
systemctl enable --now unattended-upgrades >/dev/null 2>&1 || true

# --- Kernel and network hardening ---------------------------------------
validate_sysctl() {
  # Every setting is "key = number(s)", and the kernel knows every network
  # key (a kernel built without a feature, such as Yama, may lack one of the
  # kernel-wide ones, and a container sees none of those).
  ! grep -vE '^\s*(#|$)' "$1" | grep -qvE '^[a-z0-9_.]+ = [0-9]+( [0-9]+)*$' || return 1
  ! sysctl --dry-run -p "$1" 2>&1 >/dev/null | grep -v 'cannot stat /proc/sys/\(kernel\|fs\|dev\|net/core\)/' | grep -q .
}
install_file "$here/sysctl/99-platform.conf" /etc/sysctl.d/99-platform.conf 0644 root:root validate_sysctl || true
# Applied on every run (it changes nothing when the values are in force).
if systemd-detect-virt --container --quiet; then
  # A container may set only its own network namespace's values.
  grep -E '^net\.ipv[46]\.' /etc/sysctl.d/99-platform.conf | sysctl -q -p - >/dev/null
else
  sysctl -q -p /etc/sysctl.d/99-platform.conf >/dev/null || log "some sysctl keys are not supported by this kernel"
fi

# --- Smaller measures: each closes something Lynis checks ---------------
# Unused network protocols and storage that a server never needs.
install_file "$here/security/modprobe-blacklist.conf" /etc/modprobe.d/platform-blacklist.conf 0644 root:root || true
# No core dumps, from sessions, shells or services: a dump of the API could
# hold keys. An idle interactive shell logs out after 15 minutes.
install_file "$here/security/limits-nocore.conf" /etc/security/limits.d/90-platform-nocore.conf 0644 root:root || true
install_file "$here/security/coredump.conf" /etc/systemd/coredump.conf.d/90-platform.conf 0644 root:root || true
install_file "$here/security/profile-session.sh" /etc/profile.d/platform-session.sh 0644 root:root sh -n || true
# login.defs: new files private to their group; password hashing rounds and
# ageing, for any account that is ever given a password.
set_login_def() {
  if ! grep -qE "^$1\s+$2\$" /etc/login.defs; then
    sed -i -E "/^#?\s*$1\s/d" /etc/login.defs
    printf '%s\t\t%s\n' "$1" "$2" >>/etc/login.defs
    changed=1
  fi
}
set_login_def UMASK 027
set_login_def SHA_CRYPT_MIN_ROUNDS 5000
set_login_def SHA_CRYPT_MAX_ROUNDS 100000
set_login_def PASS_MIN_DAYS 1
set_login_def PASS_MAX_DAYS 365
# Home directories are not for others to read.
if [ "$(stat -c %a "$home")" != 750 ]; then
  chmod 750 "$home"
  changed=1
fi
# The host's own name resolves locally (sudo and mail use it).
if ! grep -qE "\s$(hostname)(\s|\$)" /etc/hosts; then
  printf '127.0.1.1\t%s\n' "$(hostname)" >>/etc/hosts
  changed=1
fi
# A legal banner before login (the template without its "#" lines).
banner=$(mktemp)
grep -v '^#' "$here/security/issue" >"$banner"
install_file "$banner" /etc/issue 0644 root:root || true
install_file "$banner" /etc/issue.net 0644 root:root || true
rm -f "$banner"
# Files only root should read or change: cron tables, sshd's configuration.
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
restrict 600 /etc/crontab /etc/ssh/sshd_config
restrict 700 /etc/cron.d /etc/cron.daily /etc/cron.hourly /etc/cron.weekly /etc/cron.monthly
# Compilers for root only: nothing on this host builds code (images are
# built elsewhere), and an intruder's first step is often to compile.
for compiler in as gcc cc c++ g++ clang; do
  path=$(command -v "$compiler" || true)
  [ -n "$path" ] && restrict 750 "$(readlink -f "$path")"
done
# File integrity: AIDE's database of the system's files, with SHA-256 and
# SHA-512 checksums only (the default also computes weak ones such as MD5),
# built once in the background (it reads the whole disk); its daily check
# compares against it.
if grep -qE '^Checksums = H$' /etc/aide/aide.conf 2>/dev/null; then
  sed -i -E 's/^Checksums = H$/Checksums = sha256+sha512/' /etc/aide/aide.conf
  changed=1
fi
if [ ! -e /var/lib/aide/aide.db ] && ! systemctl is-active --quiet platform-aideinit; then
  systemd-run --unit=platform-aideinit --description="Build the AIDE database" aideinit --yes --force >/dev/null
  log "building the AIDE database in the background (unit platform-aideinit)"
  changed=1
fi
# Process accounting and system statistics, for after-the-fact questions.
if [ -f /etc/default/sysstat ] && grep -q '^ENABLED="false"' /etc/default/sysstat; then
  sed -i 's/^ENABLED="false"/ENABLED="true"/' /etc/default/sysstat
  changed=1
fi
systemctl enable --now acct sysstat >/dev/null 2>&1 || true

# --- Log rotation -------------------------------------------------------
validate_logrotate() {
  # logrotate -d exits 0 on unknown directives; its "error:" lines tell.
  ! logrotate -d "$1" 2>&1 | grep -q '^error:'
}
install_file "$here/logrotate/platform" /etc/logrotate.d/platform 0644 root:root validate_logrotate || true

# --- Docker engine and Compose -----------------------------------------
. /etc/os-release
if [ "$PACKAGE_SOURCE" = official ]; then
  if [ ! -f /etc/apt/sources.list.d/docker.list ]; then
    install -d -m 0755 /etc/apt/keyrings
    curl -fsSL "https://download.docker.com/linux/$ID/gpg" -o /etc/apt/keyrings/docker.asc
    echo "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$ID $VERSION_CODENAME stable" \
      >/etc/apt/sources.list.d/docker.list
    changed=1
  fi
  apt_install docker-ce docker-ce-cli containerd.io docker-compose-plugin
else
  apt_install docker.io
  # Ubuntu packages Compose v2 as docker-compose-v2; Debian 12 has none.
  if ! docker compose version >/dev/null 2>&1 && apt-cache show docker-compose-v2 >/dev/null 2>&1; then
    apt_install docker-compose-v2
  fi
fi
systemctl enable --now docker >/dev/null 2>&1 || true
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer; see: journalctl -u docker"
docker compose version >/dev/null 2>&1 ||
  fail "Docker Compose v2 is missing: PACKAGE_SOURCE=official installs it; with distro packages the OS must have it (Ubuntu: docker-compose-v2)"
# Not in the docker group (which is root without sudo): its docker commands
# go through sudo, and so into sudo's log. Takes effect at its next login.
if id -nG "$DEPLOY_USER" | tr ' ' '\n' | grep -qx docker; then
  gpasswd -d "$DEPLOY_USER" docker >/dev/null
  log "removed $DEPLOY_USER from the docker group: its docker commands go through sudo"
  changed=1
fi

# --- Containers never reach the cloud's metadata service -----------------
# 169.254.169.254 hands the instance's user data to any process that asks,
# in a container too: a DOCKER-USER rule refuses containers, after every
# start of Docker (a reboot empties the rules). The host itself still
# reaches it (cloud-init reads it at boot). IPv6 needs nothing: the service
# has no IPv6 address, and Docker gives containers none here.
# systemd-analyze exits 0 on a line it ignores: its complaints about this unit tell.
validate_unit() { ! systemd-analyze verify --man=no "$1" 2>&1 | grep -qF "$(basename "$1")"; }
guard_changed=0
if install_file "$here/docker/metadata-guard.sh" /usr/local/sbin/platform-metadata-guard 0755 root:root sh -n; then guard_changed=1; fi
if install_file "$here/docker/platform-metadata-guard.service" /etc/systemd/system/platform-metadata-guard.service 0644 root:root validate_unit; then
  systemctl daemon-reload
  guard_changed=1
fi
if ! systemctl is-enabled --quiet platform-metadata-guard; then
  systemctl enable platform-metadata-guard >/dev/null 2>&1
  changed=1
fi
if [ "$guard_changed" -eq 1 ] || ! systemctl is-active --quiet platform-metadata-guard; then
  systemctl restart platform-metadata-guard || fail "platform-metadata-guard did not start; see: journalctl -u platform-metadata-guard"
fi
# The rule itself, whatever happened to it since (it prints only what it adds).
guard=$(/usr/local/sbin/platform-metadata-guard) || fail "could not add the DOCKER-USER rule for 169.254.169.254; see: iptables -L DOCKER-USER"
if [ -n "$guard" ]; then
  log "$guard"
  changed=1
fi

# --- Caddy --------------------------------------------------------------
if [ "$PACKAGE_SOURCE" = official ] && [ ! -f /etc/apt/sources.list.d/caddy-stable.list ]; then
  curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/gpg.key | gpg --dearmor -o /usr/share/keyrings/caddy-stable-archive-keyring.gpg
  curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/debian.deb.txt -o /etc/apt/sources.list.d/caddy-stable.list
  changed=1
fi
apt_install caddy

# --- Platform directories -----------------------------------------------
install -d -m 0750 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$APP_DIR" "$APP_DIR/releases"
install -d -m 0750 -o root -g root "$PLATFORM_DATA_DIR"
install -d -m 0700 -o "$CONTAINER_UID" -g "$CONTAINER_UID" "$PLATFORM_DATA_DIR/nats"

if [ "$changed" -eq 1 ]; then log "done: changes made"; else log "done: nothing to change"; fi
