#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The script an operator runs once on a server they bring
# (templates/host/create-deploy-user.sh), with the system's commands
# stubbed: the user, its key, its password field and its sudo rule, word for word.

bats_require_minimum_version 1.5.0

SCRIPT="$BATS_TEST_DIRNAME/../../../templates/host/create-deploy-user.sh"
KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0l8nSHjyGxzOrPgLSYBAqBAlu0OzrhHW7bbgIF8pn deploy@ci"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export TMPDIR="$BATS_TEST_TMPDIR" HOME_DIR="$BATS_TEST_TMPDIR/home/deploy"
  mkdir -p "$HOME_DIR/.ssh"
  # UID: who runs it (0 by default); EXISTS: the user exists; HASH: its password field.
  stub id 'if [ "$1" = -u ]; then echo "${UID_IS:-0}"; else [ -n "$EXISTS" ]; fi'
  stub useradd
  stub getent 'case $1 in shadow) echo "$2:$HASH:20000::::::" ;; passwd) echo "$2:x:1000:1000::$HOME_DIR:/bin/bash" ;; esac'
  stub install
  stub chown
  stub chmod
  stub usermod
  stub visudo 'cp "$2" "$BATS_TEST_TMPDIR/sudoers"; [ -z "$VISUDO_FAILS" ]'
}

create() {
  run env DEPLOY_SSH_KEY="$KEY" "$@" bash "$SCRIPT"
}

# calls_here: the calls, the test's folder as TMP and the temporary sudoers file as SUDOERS.
calls_here() { calls | sed -E "s#$BATS_TEST_TMPDIR/tmp\.[A-Za-z0-9]+#SUDOERS#g; s#$BATS_TEST_TMPDIR#TMP#g"; }

@test "a new user: created, its key added, no password (not locked), sudo without one" {
  create HASH='!'
  [ "$status" -eq 0 ]
  [ "$output" = "create-deploy-user: deploy can log in with the key of the stack; next: pulumi up" ]
  [ "$(cat "$HOME_DIR/.ssh/authorized_keys")" = "$KEY" ]
  [ "$(cat "$BATS_TEST_TMPDIR/sudoers")" = "deploy ALL=(ALL) NOPASSWD:ALL" ]
  [ "$(calls_here)" = "id -u
id deploy
useradd --create-home --shell /bin/bash deploy
getent passwd deploy
install -d -m 0700 -o deploy -g deploy TMP/home/deploy/.ssh
chown deploy:deploy TMP/home/deploy/.ssh/authorized_keys
chmod 0600 TMP/home/deploy/.ssh/authorized_keys
usermod -p * deploy
visudo -cqf SUDOERS
install -m 0440 SUDOERS /etc/sudoers.d/90-platform-deploy" ]
}

@test "an existing user keeps its password, and its key is not added twice" {
  printf 'ssh-ed25519 AAAAother other\n%s\n' "$KEY" >"$HOME_DIR/.ssh/authorized_keys"
  create EXISTS=1 HASH='$y$j9T$salt$hash' DEPLOY_USER=ops
  [ "$status" -eq 0 ]
  [ "$(cat "$HOME_DIR/.ssh/authorized_keys")" = "ssh-ed25519 AAAAother other
$KEY" ]
  [ "$(grep -cE '^(useradd|usermod)' "$CALLS")" -eq 0 ]
  [ "$(cat "$BATS_TEST_TMPDIR/sudoers")" = "ops ALL=(ALL) NOPASSWD:ALL" ]
}

@test "an existing locked account gets no password instead (sshd refuses a locked one without PAM)" {
  create EXISTS=1 HASH='!$6$old'
  [ "$status" -eq 0 ]
  grep -qxF "usermod -p * deploy" "$CALLS"
}

@test "not root, a bad user name or a bad key: stops before changing anything" {
  create UID_IS=1000
  [ "$status" -eq 1 ]
  [ "$output" = "create-deploy-user: ERROR: run as root" ]
  create DEPLOY_USER=root
  [ "$output" = "create-deploy-user: ERROR: DEPLOY_USER 'root' is not a valid name for the deploy user (lower case, e.g. deploy; not root)" ]
  run env DEPLOY_SSH_KEY="ssh-ed25519 nope" bash "$SCRIPT"
  [ "$status" -eq 1 ]
  [ "$output" = "create-deploy-user: ERROR: DEPLOY_SSH_KEY is not one OpenSSH public key line (the contents of a .pub file)" ]
  [ "$(grep -cvE '^id ' "$CALLS")" -eq 0 ]
}

@test "a sudo rule visudo refuses is not installed" {
  create HASH='!' VISUDO_FAILS=1
  [ "$status" -eq 1 ]
  [ "$output" = "create-deploy-user: ERROR: the sudoers line does not validate" ]
  [ "$(grep -c '^install -m 0440' "$CALLS")" -eq 0 ]
}
