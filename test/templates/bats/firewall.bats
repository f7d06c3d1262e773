#!/usr/bin/env bats
# shellcheck disable=SC2317 # the stubs below are called by the functions under test
# The firewall's SSH decision (templates/host/firewall.sh), word for word:
# ufw's rule files as real ufw 0.36 writes them (each "### tuple ###" line
# below was written by `ufw allow ...`), the plan it prints, and the ufw
# commands the bootstrap then runs, with ufw stubbed.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=templates/host/lib.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
  # shellcheck source=templates/host/firewall.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/firewall.sh"
  # lib.sh turns on -u, which bats itself is not written for; -e stays: a failed check fails the test.
  set +u
  export UFW_RULES_DIR="$BATS_TEST_TMPDIR/ufw"
  mkdir -p "$UFW_RULES_DIR"
  : >"$UFW_RULES_DIR/user.rules"
  : >"$UFW_RULES_DIR/user6.rules"
}

# rules FILE TUPLE...: FILE (user.rules or user6.rules) as ufw writes it, around the tuples.
rules() {
  local file=$1
  shift
  {
    echo '*filter'
    echo '### RULES ###'
    printf '%s\n' "$@"
    echo '### END RULES ###'
    echo 'COMMIT'
  } >"$UFW_RULES_DIR/$file"
}

# plan SSH_PORT CIDR...: the plan with sshd listening on SSH_PORT only (SSHD_PORTS for more).
plan() {
  ssh_firewall_plan "$1" "${SSHD_PORTS:-$1}" "$UFW_RULES_DIR/user.rules" "$UFW_RULES_DIR/user6.rules" "${@:2}"
}

@test "a fresh ufw: one rule per admin network is added, nothing deleted" {
  run plan 22 203.0.113.7 2001:db8::/48
  [ "$status" -eq 0 ]
  [ "$output" = "allow from 203.0.113.7 to any port 22 proto tcp comment SSH\\ from\\ admins
allow from 2001:db8::/48 to any port 22 proto tcp comment SSH\\ from\\ admins" ]
}

@test "world-open SSH (OpenSSH's profile, 22/tcp, a limit, port 22 on any protocol) is deleted with its IPv6 twin, after the admin rule is added" {
  rules user.rules \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in' \
    '### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow any 22 0.0.0.0/0 any 0.0.0.0/0 in'
  rules user6.rules \
    '### tuple ### allow tcp 22 ::/0 any ::/0 OpenSSH - in' \
    '### tuple ### limit tcp 22 ::/0 any ::/0 in' \
    '### tuple ### allow any 22 ::/0 any ::/0 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "allow from 203.0.113.7 to any port 22 proto tcp comment SSH\\ from\\ admins
delete allow from any to any app OpenSSH
delete limit proto tcp from any to any port 22
delete allow from any to any port 22" ]
}

@test "the admin rules in place are kept, IPv4 and IPv6, and a second plan is empty" {
  rules user.rules '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in comment=5353482066726f6d2061646d696e73'
  rules user6.rules '### tuple ### allow tcp 22 ::/0 any 2001:db8::/48 in comment=5353482066726f6d2061646d696e73'
  run plan 22 203.0.113.7 2001:db8::/48
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "rules for other ports that contain 22 (2222, 8022, 220) are never touched" {
  rules user.rules \
    '### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow tcp 8022 0.0.0.0/0 any 198.51.100.0/24 in' \
    '### tuple ### allow tcp 220 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in'
  rules user6.rules \
    '### tuple ### allow tcp 2222 ::/0 any ::/0 in' \
    '### tuple ### allow tcp 220 ::/0 any ::/0 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "a network no longer listed loses its rule; a listed one keeps it" {
  rules user.rules \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 198.51.100.0/24 in'
  rules user6.rules '### tuple ### allow tcp 22 ::/0 any 2001:db8::1 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "delete allow proto tcp from 198.51.100.0/24 to any port 22
delete allow proto tcp from 2001:db8::1 to any port 22" ]
}

@test "an admin network's rule that is not exactly the admin rule (a limit, an interface, an address, a source port) is replaced" {
  rules user.rules \
    '### tuple ### limit tcp 22 0.0.0.0/0 any 203.0.113.7 in' \
    '### tuple ### allow tcp 22 10.1.1.1 any 203.0.113.7 in' \
    '### tuple ### allow any 22 0.0.0.0/0 any 0.0.0.0/0 in_eth1' \
    '### tuple ### allow tcp 22 0.0.0.0/0 5555 203.0.113.7 in'
  rules user6.rules '### tuple ### allow any 22 ::/0 any ::/0 in_eth1'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "allow from 203.0.113.7 to any port 22 proto tcp comment SSH\\ from\\ admins
delete limit proto tcp from 203.0.113.7 to any port 22
delete allow proto tcp from 203.0.113.7 to 10.1.1.1 port 22
delete allow in on eth1 from any to any port 22
delete allow proto tcp from 203.0.113.7 port 5555 to any port 22" ]
}

@test "deny rules, outgoing rules and UDP rules for the SSH port are left alone" {
  rules user.rules \
    '### tuple ### deny any 22 0.0.0.0/0 any 192.0.2.1 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 out' \
    '### tuple ### allow udp 22 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "sshPort 2222: its admin rule is added, then a world-open 2222 rule, OpenSSH's and the admin rule of the old port go" {
  rules user.rules \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in comment=5353482066726f6d2061646d696e73' \
    '### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 198.51.100.7 in'
  rules user6.rules \
    '### tuple ### allow tcp 2222 ::/0 any ::/0 in' \
    '### tuple ### allow tcp 22 ::/0 any ::/0 OpenSSH - in'
  run plan 2222 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "allow from 203.0.113.7 to any port 2222 proto tcp comment SSH\\ from\\ admins
delete allow proto tcp from 203.0.113.7 to any port 22
delete allow proto tcp from any to any port 2222
delete allow from any to any app OpenSSH" ]
  # sshd no longer listens on 22: a rule of someone else's for it stays.
}

@test "sshPort 2222 while sshd still listens on 22 too: every rule for 22 goes" {
  rules user.rules \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in' \
    '### tuple ### allow tcp 22 0.0.0.0/0 any 198.51.100.7 in' \
    '### tuple ### allow tcp 8022 0.0.0.0/0 any 0.0.0.0/0 in'
  rules user6.rules '### tuple ### allow tcp 22 ::/0 any ::/0 in'
  SSHD_PORTS="22 2222" run plan 2222 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "allow from 203.0.113.7 to any port 2222 proto tcp comment SSH\\ from\\ admins
delete allow proto tcp from any to any port 22
delete allow proto tcp from 198.51.100.7 to any port 22" ]
}

@test "a rule opening the SSH port among others (a range, a list, every port) stops the plan, naming it" {
  rules user.rules '### tuple ### allow tcp 20:30 0.0.0.0/0 any 0.0.0.0/0 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 1 ]
  [ "$output" = 'the ufw rule "allow proto tcp from any to any port 20:30" opens SSH (port 22) together with other ports: narrow it or remove it (ufw delete allow proto tcp from any to any port 20:30), then run again' ]
  rules user.rules '### tuple ### allow any any 0.0.0.0/0 any 10.0.0.0/8 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 1 ]
  [[ $output == *'"allow from 10.0.0.0/8 to any" opens SSH (port 22)'* ]]
  rules user.rules '### tuple ### allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 WWW%20Full - in' '### tuple ### allow tcp 22,80 0.0.0.0/0 any 0.0.0.0/0 in'
  run plan 22 203.0.113.7
  [ "$status" -eq 1 ]
  [ "$output" = 'the ufw rule "allow proto tcp from any to any port 22,80" opens SSH (port 22) together with other ports: narrow it or remove it (ufw delete allow proto tcp from any to any port 22,80), then run again' ]
  # With sshd on 2222 too, a range over 2222 is refused as well.
  rules user.rules '### tuple ### allow tcp 2000:3000 0.0.0.0/0 any 0.0.0.0/0 in'
  SSHD_PORTS="22 2222" run plan 22 203.0.113.7
  [ "$status" -eq 1 ]
  [[ $output == *'"allow proto tcp from any to any port 2000:3000" opens SSH (port 2222)'* ]]
}

@test "an application profile's name with a space is quoted for the shell" {
  rules user.rules '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 Admin%20SSH - in'
  run plan 22 203.0.113.7
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "delete allow from any to any app Admin\\ SSH" ]
}

@test "normalize_cidrs writes networks as ufw stores them" {
  run normalize_cidrs 203.0.113.7/32 2001:DB8:0:0::1/128 2001:db8:0::/48 198.51.100.5/24 10.0.0.0/8
  [ "$status" -eq 0 ]
  [ "$output" = "203.0.113.7
2001:db8::1
2001:db8::/48
198.51.100.0/24
10.0.0.0/8" ]
}

@test "reconcile_ssh_firewall runs the plan's ufw commands in order, and nothing for a second run" {
  ufw() { printf 'ufw %s\n' "$*" >>"$BATS_TEST_TMPDIR/calls"; }
  rules user.rules '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in'
  rules user6.rules '### tuple ### allow tcp 22 ::/0 any ::/0 OpenSSH - in'
  changed=0
  reconcile_ssh_firewall 22 22 203.0.113.7 >/dev/null
  [ "$changed" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR/calls")" = "ufw allow from 203.0.113.7 to any port 22 proto tcp comment SSH from admins
ufw delete allow from any to any app OpenSSH" ]
  # What ufw then holds: the admin rule only.
  rules user.rules '### tuple ### allow tcp 22 0.0.0.0/0 any 203.0.113.7 in comment=5353482066726f6d2061646d696e73'
  : >"$UFW_RULES_DIR/user6.rules"
  rm "$BATS_TEST_TMPDIR/calls"
  changed=0
  reconcile_ssh_firewall 22 22 203.0.113.7
  [ "$changed" -eq 0 ]
  [ ! -e "$BATS_TEST_TMPDIR/calls" ]
}

@test "reconcile_ssh_firewall changes nothing when the plan is refused" {
  ufw() { printf 'ufw %s\n' "$*" >>"$BATS_TEST_TMPDIR/calls"; }
  rules user.rules '### tuple ### allow tcp 20:30 0.0.0.0/0 any 0.0.0.0/0 in'
  run reconcile_ssh_firewall 22 22 203.0.113.7
  [ "$status" -eq 1 ]
  [[ $output == *"ERROR: the firewall's SSH rules cannot be reconciled (see above); no SSH rule was changed"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/calls" ]
}

@test "reconcile_ssh_firewall stops at the first ufw command that fails, before any deletion" {
  ufw() {
    printf 'ufw %s\n' "$*" >>"$BATS_TEST_TMPDIR/calls"
    [ "$1" != allow ]
  }
  rules user.rules '### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in'
  run reconcile_ssh_firewall 22 22 203.0.113.7
  [ "$status" -eq 1 ]
  [ "$output" = "platform: ERROR: ufw allow from 203.0.113.7 to any port 22 proto tcp comment SSH\\ from\\ admins failed" ]
  [ "$(cat "$BATS_TEST_TMPDIR/calls")" = "ufw allow from 203.0.113.7 to any port 22 proto tcp comment SSH from admins" ]
}
