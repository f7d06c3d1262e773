#!/usr/bin/env bats
# Who may log in with the deploy key (templates/host/ssh-access.sh): the SSH
# session a process runs in, found up its process tree; addresses in the
# admin networks; the deploy key's line in authorized_keys.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=templates/host/lib.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
  # shellcheck source=templates/host/ssh-access.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/ssh-access.sh"
  # lib.sh turns on -u, which bats itself is not written for; -e stays: a failed check fails the test.
  set +u
  export PLATFORM_PROC="$BATS_TEST_TMPDIR/proc"
  KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployKeyBlob0123456789abcdefghijklmnop deploy@ci"
}

# process PID PPID [ENV...]: a process in a /proc of the test's own.
process() {
  local pid=$1 ppid=$2
  shift 2
  mkdir -p "$PLATFORM_PROC/$pid"
  printf 'Name:\tbash\nPPid:\t%s\n' "$ppid" >"$PLATFORM_PROC/$pid/status"
  if [ $# -gt 0 ]; then printf '%s\0' "$@" >"$PLATFORM_PROC/$pid/environ"; else : >"$PLATFORM_PROC/$pid/environ"; fi
}

@test "the SSH session is found above sudo, which cleared SSH_CONNECTION from its own environment" {
  process 900 1
  process 1000 900 "SSH_CONNECTION=203.0.113.7 50122 198.51.100.10 2222" USER=deploy
  process 1010 1000 USER=root SUDO_USER=deploy
  process 1020 1010 USER=root
  run ssh_session_origin 1020
  [ "$status" -eq 0 ]
  [ "$output" = "203.0.113.7 2222" ]
}

@test "no SSH session: nothing printed (a console, a timer)" {
  process 900 1 TERM=linux
  process 1020 900 USER=root
  run ssh_session_origin 1020
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "an IPv6 session is reported with its address" {
  process 1000 1 "SSH_CONNECTION=2001:db8::7 50122 2001:db8::10 22"
  run ssh_session_origin 1000
  [ "$output" = "2001:db8::7 22" ]
}

@test "address_in_cidrs: IPv4 and IPv6 networks, single addresses, mapped addresses" {
  address_in_cidrs 203.0.113.7 203.0.113.7/32
  address_in_cidrs 203.0.113.7 198.51.100.0/24 203.0.113.0/24
  address_in_cidrs 2001:db8:1::5 2001:db8:1::/48
  address_in_cidrs ::ffff:203.0.113.7 203.0.113.7/32
  run ! address_in_cidrs 203.0.113.8 203.0.113.7/32
  run ! address_in_cidrs 203.0.113.7 2001:db8::/32
  run ! address_in_cidrs 2001:db8:2::5 2001:db8:1::/48 203.0.113.0/24
}

@test "the deploy key's bare line gets from=, other keys stay as they are" {
  printf '%s\n' "ssh-ed25519 AAAAOtherKey operator@laptop" "$KEY" >"$BATS_TEST_TMPDIR/keys"
  run deploy_authorized_keys "$BATS_TEST_TMPDIR/keys" "$KEY" "203.0.113.7,2001:db8::/48"
  [ "$status" -eq 0 ]
  [ "$output" = "ssh-ed25519 AAAAOtherKey operator@laptop
from=\"203.0.113.7,2001:db8::/48\" $KEY" ]
}

@test "a changed admin list replaces the old from=, and a repeat of the key is dropped" {
  printf '%s\n' "from=\"198.51.100.0/24\" $KEY" "ssh-ed25519 AAAAOtherKey operator@laptop" "${KEY% *} old-comment" >"$BATS_TEST_TMPDIR/keys"
  run deploy_authorized_keys "$BATS_TEST_TMPDIR/keys" "$KEY" "203.0.113.7"
  [ "$output" = "from=\"203.0.113.7\" $KEY
ssh-ed25519 AAAAOtherKey operator@laptop" ]
}

@test "a missing key is added; a second pass changes nothing" {
  printf '%s\n' "ssh-ed25519 AAAAOtherKey operator@laptop" >"$BATS_TEST_TMPDIR/keys"
  deploy_authorized_keys "$BATS_TEST_TMPDIR/keys" "$KEY" "203.0.113.7" >"$BATS_TEST_TMPDIR/once"
  [ "$(tail -1 "$BATS_TEST_TMPDIR/once")" = "from=\"203.0.113.7\" $KEY" ]
  run deploy_authorized_keys "$BATS_TEST_TMPDIR/once" "$KEY" "203.0.113.7"
  [ "$output" = "$(cat "$BATS_TEST_TMPDIR/once")" ]
  run deploy_authorized_keys "$BATS_TEST_TMPDIR/none" "$KEY" "203.0.113.7"
  [ "$output" = "from=\"203.0.113.7\" $KEY" ]
}

@test "a key with other options is recognised by its blob, not its text" {
  printf '%s\n' "no-pty,from=\"10.0.0.1\" $KEY" >"$BATS_TEST_TMPDIR/keys"
  run deploy_authorized_keys "$BATS_TEST_TMPDIR/keys" "$KEY" "203.0.113.7"
  [ "$output" = "from=\"203.0.113.7\" $KEY" ]
}
