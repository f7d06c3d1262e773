#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# Who may log in (templates/host/bootstrap/access.sh), with the system's
# commands stubbed and install_file recording: the deploy user and its key,
# sudo, the sshd drop-in (installed only when sshd accepts the whole
# configuration with it, and only with the deploy key in place), ufw and
# fail2ban, word for word.

bats_require_minimum_version 1.5.0

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0l8nSHjyGxzOrPgLSYBAqBAlu0OzrhHW7bbgIF8pn deploy@ci"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  bootstrap_under_test
  record_installs
  export TMPDIR="$BATS_TEST_TMPDIR"
  DEPLOY_USER=deploy DEPLOY_SSH_KEY=$KEY ADMIN_CIDRS="203.0.113.7/32 2001:db8::/48" SSH_PORT=22
  admin_networks=(203.0.113.7 2001:db8::/48) sshd_ports=22 deploy_from="203.0.113.7,2001:db8::/48"
  home="$BATS_TEST_TMPDIR/home/deploy"
  mkdir -p "$home/.ssh"
  export HOME_DIR=$home
  # The deploy user: EXISTS, its password hash (HASH) and maximum age (MAX_DAYS).
  # shellcheck disable=SC2016 # expanded by the stubs when they run
  stub id '[ -n "$EXISTS" ]'
  stub useradd
  # shellcheck disable=SC2016
  stub getent 'case $1 in shadow) echo "$2:$HASH:20000:0:99999:7:::" ;; passwd) echo "$2:x:1000:1000::$HOME_DIR:/bin/bash" ;; esac'
  stub chpasswd 'cat >"$BATS_TEST_TMPDIR/chpasswd.stdin"'
  # shellcheck disable=SC2016
  stub chage 'if [ "$1" = -l ]; then printf "Maximum number of days between password change\t\t: %s\n" "$MAX_DAYS"; fi'
  stub install
  stub systemctl
  stub sshd
  stub fail2ban-client
}

@test "password_is_yescrypt: only a yescrypt hash is" {
  password_is_yescrypt '$y$j9T$abc$def'
  run password_is_yescrypt '$6$salt$hash'
  [ "$status" -eq 1 ]
  run password_is_yescrypt '!'
  [ "$status" -eq 1 ]
}

@test "a new deploy user: created, a random yescrypt password that never expires, its key only from the admin networks" {
  HASH='!' MAX_DAYS=99999 INSTALLED="$home/.ssh/authorized_keys" run set_up_deploy_user
  [ "$status" -eq 0 ]
  [ "$(calls)" = "id deploy
useradd --create-home --shell /bin/bash deploy
getent shadow deploy
chpasswd --crypt-method YESCRYPT
chage -l deploy
chage -M -1 -m 0 deploy
getent passwd deploy
install -d -m 0700 -o deploy -g deploy $home/.ssh
install_file $home/.ssh/authorized_keys 0600 deploy:deploy" ]
  [[ $(cat "$BATS_TEST_TMPDIR/chpasswd.stdin") =~ ^deploy:[A-Za-z0-9+/]{64}$ ]]
  [ "$(installed authorized_keys)" = "from=\"203.0.113.7,2001:db8::/48\" $KEY" ]
  [ "$output" = "bootstrap: created user deploy
bootstrap: the deploy key in $home/.ssh/authorized_keys is accepted only from 203.0.113.7,2001:db8::/48" ]
}

@test "the deploy user as a first bootstrap left it: nothing changes" {
  printf 'from="203.0.113.7,2001:db8::/48" %s\n' "$KEY" >"$home/.ssh/authorized_keys"
  EXISTS=1 HASH='$y$j9T$salt$hash' MAX_DAYS=-1 run set_up_deploy_user
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(calls)" = "id deploy
getent shadow deploy
chage -l deploy
getent passwd deploy
install -d -m 0700 -o deploy -g deploy $home/.ssh
install_file $home/.ssh/authorized_keys 0600 deploy:deploy" ]
  [ "$(installed authorized_keys)" = "$(cat "$home/.ssh/authorized_keys")" ]
}

@test "a sha512crypt password from an earlier bootstrap is replaced by a yescrypt one" {
  EXISTS=1 HASH='$6$salt$hash' MAX_DAYS=-1 run set_up_deploy_user
  [ "$status" -eq 0 ]
  grep -qxF "chpasswd --crypt-method YESCRYPT" "$CALLS"
  [ "$(grep -c '^chage -M' "$CALLS")" -eq 0 ]
}

@test "sudo: the deploy user's rule, checked by visudo, and the folder of sudo's log" {
  run install_sudoers
  [ "$status" -eq 0 ]
  [ "$(calls)" = "install -d -m 0750 -o root -g adm /var/log/platform
install_file /etc/sudoers.d/90-platform-deploy 0440 root:root visudo -cqf" ]
  installed 90-platform-deploy | grep -q '^deploy ALL=(ALL) NOPASSWD:'
  [ "$(installed 90-platform-deploy | grep -c '{{')" -eq 0 ]
}

# ssh_dir: an /etc/ssh of the test's own, its sshd_config including its drop-ins.
ssh_dir() {
  mkdir -p "$BATS_TEST_TMPDIR/ssh/sshd_config.d"
  printf 'Include %s/sshd_config.d/*.conf\nPort 22\n' "$BATS_TEST_TMPDIR/ssh" >"$BATS_TEST_TMPDIR/ssh/sshd_config"
  echo "PermitRootLogin yes" >"$BATS_TEST_TMPDIR/ssh/sshd_config.d/50-cloud-init.conf"
}

@test "sshd_config_valid: sshd -t checks a copy of the whole configuration with the new drop-in, the live one untouched" {
  ssh_dir
  # sshd -t -f FILE: keeps the configuration it was shown, and the drop-ins it includes.
  # shellcheck disable=SC2016
  stub sshd 'cp "$3" "$BATS_TEST_TMPDIR/seen-config"; cat "$(dirname "$3")"/sshd_config.d/*.conf >"$BATS_TEST_TMPDIR/seen-dropins"; echo "$(dirname "$3")" >"$BATS_TEST_TMPDIR/seen-dir"'
  echo "PasswordAuthentication no" >"$BATS_TEST_TMPDIR/new.conf"
  sshd_config_valid "$BATS_TEST_TMPDIR/new.conf" "$BATS_TEST_TMPDIR/ssh"
  local copy
  copy=$(cat "$BATS_TEST_TMPDIR/seen-dir")
  [ "$(calls)" = "sshd -t -f $copy/sshd_config" ]
  [ "$(cat "$BATS_TEST_TMPDIR/seen-config")" = "Include $copy/sshd_config.d/*.conf
Port 22" ]
  [ "$(cat "$BATS_TEST_TMPDIR/seen-dropins")" = "PasswordAuthentication no
PermitRootLogin yes" ]
  # The copy is gone, the live folder as it was.
  [ ! -e "$copy" ]
  [ "$(ls "$BATS_TEST_TMPDIR/ssh/sshd_config.d")" = "50-cloud-init.conf" ]
}

@test "sshd_config_valid: a configuration sshd refuses is refused" {
  ssh_dir
  stub sshd 'exit 255'
  echo "NoSuchOption yes" >"$BATS_TEST_TMPDIR/new.conf"
  run sshd_config_valid "$BATS_TEST_TMPDIR/new.conf" "$BATS_TEST_TMPDIR/ssh"
  [ "$status" -eq 255 ]
}

@test "the sshd drop-in: installed after validation, then sshd checked and reloaded" {
  printf 'from="203.0.113.7,2001:db8::/48" %s\n' "$KEY" >"$home/.ssh/authorized_keys"
  INSTALLED=/etc/ssh/sshd_config.d/00-platform-hardening.conf run harden_sshd
  [ "$status" -eq 0 ]
  [ "$(calls)" = "install_file /etc/ssh/sshd_config.d/00-platform-hardening.conf 0644 root:root sshd_config_valid
sshd -t
systemctl try-reload-or-restart ssh.service" ]
  installed 00-platform-hardening.conf | grep -qx "AllowUsers deploy"
  installed 00-platform-hardening.conf | grep -qx "PasswordAuthentication no"
}

@test "the sshd drop-in already in place: sshd is not reloaded" {
  printf 'from="203.0.113.7,2001:db8::/48" %s\n' "$KEY" >"$home/.ssh/authorized_keys"
  run harden_sshd
  [ "$status" -eq 0 ]
  [ "$(calls)" = "install_file /etc/ssh/sshd_config.d/00-platform-hardening.conf 0644 root:root sshd_config_valid" ]
}

@test "the sshd drop-in is not installed while the deploy key is not in place" {
  printf '%s\n' "$KEY" >"$home/.ssh/authorized_keys"
  run harden_sshd
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: the deploy key is not in $home/.ssh/authorized_keys; not turning off password and root logins" ]
  [ "$(calls)" = "" ]
}

@test "the sshd drop-in: sshd -t failing after the change stops the run before the reload" {
  printf 'from="203.0.113.7,2001:db8::/48" %s\n' "$KEY" >"$home/.ssh/authorized_keys"
  stub sshd 'exit 255'
  INSTALLED=/etc/ssh/sshd_config.d/00-platform-hardening.conf run harden_sshd
  [ "$status" -eq 1 ]
  [[ $output == *"bootstrap: ERROR: sshd -t failed after the change" ]]
  [ "$(grep -c systemctl "$CALLS")" -eq 0 ]
}

@test "keep_martian_logging: ufw's lines turning martian logging off are commented out, once" {
  local file="$BATS_TEST_TMPDIR/sysctl.conf"
  printf 'net/ipv4/conf/all/log_martians=0\nnet/ipv4/conf/default/log_martians=0\nnet/ipv4/tcp_syncookies=1\n' >"$file"
  changes_once keep_martian_logging "$file"
  [ "$(cat "$file")" = "# net/ipv4/conf/all/log_martians=0 (set by /etc/sysctl.d/99-platform.conf)
# net/ipv4/conf/default/log_martians=0 (set by /etc/sysctl.d/99-platform.conf)
net/ipv4/tcp_syncookies=1" ]
}

@test "the firewall: defaults, web ports, SSH from the admin networks, then ufw enabled" {
  export UFW_RULES_DIR="$BATS_TEST_TMPDIR/ufw"
  mkdir -p "$UFW_RULES_DIR"
  : >"$UFW_RULES_DIR/user.rules"
  : >"$UFW_RULES_DIR/user6.rules"
  stub ufw 'if [ "$1" = status ]; then echo "Status: inactive"; fi'
  run set_up_firewall
  [ "$status" -eq 0 ]
  [ "$(calls)" = "ufw default deny incoming
ufw default allow outgoing
ufw allow 80/tcp comment HTTP (ACME, redirect)
ufw allow 443/tcp comment HTTPS
ufw allow from 203.0.113.7 to any port 22 proto tcp comment SSH from admins
ufw allow from 2001:db8::/48 to any port 22 proto tcp comment SSH from admins
ufw status
ufw --force enable" ]
  [[ $output == *"bootstrap: firewall enabled" ]]
}

@test "the firewall already active: it is not enabled again" {
  export UFW_RULES_DIR="$BATS_TEST_TMPDIR/ufw"
  mkdir -p "$UFW_RULES_DIR"
  stub ufw 'if [ "$1" = status ]; then echo "Status: active"; fi'
  run set_up_firewall
  [ "$status" -eq 0 ]
  [ "$(tail -1 "$CALLS")" = "ufw status" ]
}

@test "fail2ban: a changed jail is checked, then fail2ban restarted" {
  INSTALLED=/etc/fail2ban/jail.local run set_up_fail2ban
  [ "$status" -eq 0 ]
  [ "$(calls)" = "install_file /etc/fail2ban/jail.local 0644 root:root
fail2ban-client -t
systemctl enable --now fail2ban
systemctl restart fail2ban
systemctl is-active --quiet fail2ban" ]
  installed jail.local | grep -qx "ignoreip = 127.0.0.1/8 ::1 203.0.113.7/32 2001:db8::/48"
  installed jail.local | grep -qx "port = 22"
}

@test "fail2ban: an unchanged jail, fail2ban running: nothing else; stopped: started" {
  run set_up_fail2ban
  [ "$(calls)" = "install_file /etc/fail2ban/jail.local 0644 root:root
systemctl is-active --quiet fail2ban" ]
  : >"$CALLS"
  stub systemctl '[ "$1" != is-active ]'
  run set_up_fail2ban
  [ "$status" -eq 0 ]
  [ "$(tail -1 "$CALLS")" = "systemctl enable --now fail2ban" ]
}

@test "fail2ban: a jail fail2ban rejects stops the run" {
  stub fail2ban-client 'exit 1'
  INSTALLED=/etc/fail2ban/jail.local run set_up_fail2ban
  [ "$status" -eq 1 ]
  [[ $output == *"bootstrap: ERROR: fail2ban rejects its configuration" ]]
}
