#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The host-key step (templates/host/steps/host-key.sh) and the wait step
# (steps/wait.sh), with sshd, systemctl and cloud-init stubbed and real
# keys in an sshd folder of the test's own: the key replaced only by its own
# pair, the old one back when sshd refuses the new, sshd reloaded each run.

bats_require_minimum_version 1.5.0

HOST="$BATS_TEST_DIRNAME/../../../templates/host"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export SSH_DIR="$BATS_TEST_TMPDIR/ssh"
  mkdir -p "$SSH_DIR" "$BATS_TEST_TMPDIR/keys"
  ssh-keygen -q -t ed25519 -N '' -C old -f "$SSH_DIR/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C new -f "$BATS_TEST_TMPDIR/keys/new"
  stub sshd '[ -z "$SSHD_FAILS" ]'
  stub systemctl
}

fingerprint() { ssh-keygen -lf "$1" | cut -d' ' -f2; }

# host_key_step PRIVATE [NAME=VALUE...]: the step as the program runs it, with PRIVATE's pair.
host_key_step() {
  local private=$1 dir
  shift
  dir=$(stage)
  run env PLATFORM_STAGE="$dir" HOST_KEY_PUBLIC="$(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/keys/new.pub")" \
    HOST_KEY_PRIVATE_B64="$(base64 -w0 <"$private")" "$@" bash "$HOST/steps/host-key.sh"
}

@test "a new key replaces the first-boot one, checked by sshd, then sshd reloads" {
  local old new
  old=$(fingerprint "$SSH_DIR/ssh_host_ed25519_key.pub")
  new=$(fingerprint "$BATS_TEST_TMPDIR/keys/new.pub")
  host_key_step "$BATS_TEST_TMPDIR/keys/new"
  [ "$status" -eq 0 ]
  [ "$output" = "host-key: installed a new $SSH_DIR/ssh_host_ed25519_key
host key: $new (was $old)" ]
  [ "$(calls)" = "sshd -t
systemctl try-reload-or-restart ssh.service" ]
  cmp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/keys/new"
  [ "$(stat -c %a "$SSH_DIR/ssh_host_ed25519_key")" = 600 ]
  [ "$(ls "$SSH_DIR")" = "ssh_host_ed25519_key
ssh_host_ed25519_key.pub" ]
}

@test "a run after the key was installed only reloads sshd (an earlier run may have stopped before)" {
  host_key_step "$BATS_TEST_TMPDIR/keys/new"
  : >"$CALLS"
  host_key_step "$BATS_TEST_TMPDIR/keys/new"
  [ "$status" -eq 0 ]
  [ "$(calls)" = "systemctl try-reload-or-restart ssh.service" ]
  [ "$(ls "$SSH_DIR")" = "ssh_host_ed25519_key
ssh_host_ed25519_key.pub" ]
}

@test "a private key that is not the public line's pair changes nothing" {
  ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/keys/other"
  cp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/before"
  host_key_step "$BATS_TEST_TMPDIR/keys/other"
  [ "$status" -eq 1 ]
  [ "$output" = "host-key: ERROR: the new host key's private half is not its public line's pair; nothing was changed" ]
  cmp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/before"
  [ "$(calls)" = "" ]
  [ "$(ls "$SSH_DIR")" = "ssh_host_ed25519_key
ssh_host_ed25519_key.pub" ]
}

@test "sshd refusing its configuration with the new key: the old pair is back, sshd not reloaded" {
  cp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/before"
  cp "$SSH_DIR/ssh_host_ed25519_key.pub" "$BATS_TEST_TMPDIR/before.pub"
  host_key_step "$BATS_TEST_TMPDIR/keys/new" SSHD_FAILS=1
  [ "$status" -eq 1 ]
  [ "$output" = "host-key: ERROR: sshd refuses its configuration with the new host key (sshd -t, above); the old key is back in place" ]
  cmp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/before"
  cmp "$SSH_DIR/ssh_host_ed25519_key.pub" "$BATS_TEST_TMPDIR/before.pub"
  [ "$(calls)" = "sshd -t" ]
}

@test "with cloud-init, both steps wait for it to finish first" {
  stub cloud-init
  stub uname 'echo chat-1'
  host_key_step "$BATS_TEST_TMPDIR/keys/new"
  [ "$(head -1 "$CALLS")" = "cloud-init status --wait" ]
  : >"$CALLS"
  run env PLATFORM_STAGE="$(stage)" bash "$HOST/steps/wait.sh"
  [ "$status" -eq 0 ]
  [ "$output" = "host ready: chat-1" ]
  [ "$(calls)" = "cloud-init status --wait
uname -n" ]
}

@test "without cloud-init (a server you bring), the wait step only says the host is ready" {
  stub uname 'echo chat-1'
  # A PATH with no cloud-init, whatever this machine has.
  local dir tool
  dir=$(stage)
  mkdir -p "$BATS_TEST_TMPDIR/tools"
  for tool in bash env; do ln -s "$(command -v "$tool")" "$BATS_TEST_TMPDIR/tools/$tool"; done
  PATH="$BATS_TEST_TMPDIR/bin:$BATS_TEST_TMPDIR/tools" run env PLATFORM_STAGE="$dir" bash "$HOST/steps/wait.sh"
  [ "$status" -eq 0 ]
  [ "$output" = "host ready: chat-1" ]
  [ "$(calls)" = "uname -n" ]
}

@test "no ed25519 host key yet: the new one is installed, and was none" {
  rm "$SSH_DIR"/ssh_host_ed25519_key*
  host_key_step "$BATS_TEST_TMPDIR/keys/new"
  [ "$status" -eq 0 ]
  [ "$(tail -1 <<<"$output")" = "host key: $(fingerprint "$BATS_TEST_TMPDIR/keys/new.pub") (was none)" ]
  cmp "$SSH_DIR/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/keys/new"
}
