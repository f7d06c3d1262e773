# shellcheck shell=bash disable=SC2034,SC2154 # shared with the bootstrap: it sets here and the guard's results, and reads "changed" and home
# Managed by conversational-platform (templates/host/bootstrap/access.sh).
# Who may log in, and how: the deploy user and its key, sudo, sshd
# (key-only, no root), the firewall and fail2ban. Sourced by the bootstrap
# after lib.sh, firewall.sh, ssh-access.sh and checks.sh; here is the folder
# of the files it installs, deploy_from the admin networks (guard_against_lockout).

# password_is_yescrypt HASH: whether a shadow password field is a yescrypt
# hash, the default of Debian 12 and Ubuntu 24.04.
password_is_yescrypt() {
  case $1 in "\$y\$"*) return 0 ;; *) return 1 ;; esac
}

# set_up_deploy_user: the deploy user (home), key-only, its key accepted
# only from the admin networks.
set_up_deploy_user() {
  local keys authorized
  if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$DEPLOY_USER"
    log "created user $DEPLOY_USER"
    changed=1
  fi
  # Key-only: a random password nobody knows (a locked account is refused by
  # sshd without PAM, and flagged by audits), that never expires (an expired
  # password would block even key logins through PAM). A hash from an earlier
  # bootstrap with sha512crypt's default rounds is replaced: audits flag it.
  if ! password_is_yescrypt "$(getent shadow "$DEPLOY_USER" | cut -d: -f2)"; then
    printf '%s:%s\n' "$DEPLOY_USER" "$(head -c 48 /dev/urandom | base64 -w0)" | chpasswd --crypt-method YESCRYPT
    changed=1
  fi
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
}

# install_sudoers: the deploy user's sudo rule (checked by visudo), and the
# folder sudo's own log of its commands goes to.
install_sudoers() {
  local sudoers
  install -d -m 0750 -o root -g adm /var/log/platform
  sudoers=$(mktemp)
  render "$here/sudo/90-platform-deploy" "DEPLOY_USER=$DEPLOY_USER" >"$sudoers"
  install_file "$sudoers" /etc/sudoers.d/90-platform-deploy 0440 root:root visudo -cqf || true
  rm -f "$sudoers"
}

# sshd_config_valid DROP_IN [SSH_DIR]: whether sshd accepts its whole
# configuration (SSH_DIR, /etc/ssh by default) with DROP_IN in place as
# 00-platform-hardening.conf; the live files are not touched.
sshd_config_valid() {
  local dir ssh_dir=${2:-/etc/ssh} rc
  dir=$(mktemp -d)
  cp -a "$ssh_dir/." "$dir/"
  cp "$1" "$dir/sshd_config.d/00-platform-hardening.conf"
  sed "s#$ssh_dir/sshd_config.d#$dir/sshd_config.d#" "$ssh_dir/sshd_config" >"$dir/sshd_config"
  sshd -t -f "$dir/sshd_config"
  rc=$?
  rm -rf "$dir"
  return $rc
}

# harden_sshd: key-only, no root, through the drop-in; installed only once
# the deploy key is in place (never locking the operator out) and only if
# sshd accepts it, then sshd reloaded.
harden_sshd() {
  local keys ssh_conf
  keys="$home/.ssh/authorized_keys"
  grep -qxF "from=\"$deploy_from\" $DEPLOY_SSH_KEY" "$keys" || fail "the deploy key is not in $keys; not turning off password and root logins"
  ssh_conf=$(mktemp)
  render "$here/ssh/00-platform-hardening.conf" "DEPLOY_USER=$DEPLOY_USER" >"$ssh_conf"
  if install_file "$ssh_conf" /etc/ssh/sshd_config.d/00-platform-hardening.conf 0644 root:root sshd_config_valid; then
    sshd -t || fail "sshd -t failed after the change"
    # Ubuntu 24.04 starts sshd on demand (ssh.socket): reload it only if running.
    systemctl try-reload-or-restart ssh.service
  fi
  rm -f "$ssh_conf"
}

# keep_martian_logging FILE: comments out the lines of ufw's sysctl file
# (FILE) that turn martian logging off: ufw applies it whenever it
# (re)loads; 99-platform.conf owns that setting.
keep_martian_logging() {
  if grep -qE '^net/ipv4/conf/(all|default)/log_martians=0' "$1" 2>/dev/null; then
    sed -i -E 's@^(net/ipv4/conf/(all|default)/log_martians=0)@# \1 (set by /etc/sysctl.d/99-platform.conf)@' "$1"
    changed=1
  fi
}

# set_up_firewall: web ports open, SSH from the admin networks only (the
# admin rules added before any other SSH rule goes), then ufw enabled. ufw's
# files are in UFW_RULES_DIR (/etc/ufw by default), as for reconcile_ssh_firewall.
set_up_firewall() {
  keep_martian_logging "${UFW_RULES_DIR:-/etc/ufw}/sysctl.conf"
  ufw default deny incoming >/dev/null
  ufw default allow outgoing >/dev/null
  ufw allow 80/tcp comment 'HTTP (ACME, redirect)' >/dev/null
  ufw allow 443/tcp comment 'HTTPS' >/dev/null
  # Not `limit`: deploys open many SSH connections in a row; SSH is already
  # restricted to these networks and fail2ban watches it.
  reconcile_ssh_firewall "$SSH_PORT" "$sshd_ports" "${admin_networks[@]}"
  # Read whole: grep -q would stop reading early, and ufw's broken pipe fail the check.
  if ! grep -q "Status: active" <<<"$(ufw status)"; then
    ufw --force enable >/dev/null
    log "firewall enabled"
    changed=1
  fi
}

# set_up_fail2ban: its jail for SSH (the admin networks never banned),
# checked, and fail2ban restarted when the jail changed; running in any case.
set_up_fail2ban() {
  local jail
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
}
