#!/usr/bin/env bats
# The bootstrap's entry point (templates/host/bootstrap.sh) and what it
# checks before it changes anything (templates/host/bootstrap/checks.sh):
# the order of its jobs, its inputs, and that the run's own SSH session
# would get in again once the firewall and the deploy key are narrowed.

bats_require_minimum_version 1.5.0

HOST="$BATS_TEST_DIRNAME/../../../templates/host"
KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0l8nSHjyGxzOrPgLSYBAqBAlu0OzrhHW7bbgIF8pn deploy@ci"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  bootstrap_under_test
  DEPLOY_USER=deploy DEPLOY_SSH_KEY=$KEY ADMIN_CIDRS="203.0.113.7/32 2001:db8::/48" SSH_PORT=22
  export PLATFORM_PROC="$BATS_TEST_TMPDIR/proc"
}

JOBS=(check_inputs install_security_tooling guard_against_lockout set_up_deploy_user install_sudoers harden_sshd
  set_up_firewall set_up_fail2ban set_up_automatic_updates harden_kernel take_smaller_measures set_up_log_rotation
  install_docker keep_out_of_docker_group guard_metadata_service install_caddy make_platform_folders)

# entry_point: bootstrap.sh in a folder of its own, beside the real lib.sh and
# job files whose every job only says its name (CHANGES: the jobs change something).
entry_point() {
  local dir="$BATS_TEST_TMPDIR/host" job
  mkdir -p "$dir/bootstrap"
  cp "$HOST/bootstrap.sh" "$HOST/lib.sh" "$dir/"
  : >"$dir/firewall.sh"
  : >"$dir/ssh-access.sh"
  for job in packages access hardening runtime; do : >"$dir/bootstrap/$job.sh"; done
  for job in "${JOBS[@]}"; do
    # shellcheck disable=SC2016 # the job's own text
    printf '%s() { echo "job %s${*:+ $*}"; if [ -n "${CHANGES:-}" ]; then changed=1; fi; }\n' "$job" "$job"
  done >"$dir/bootstrap/checks.sh"
  printf '%s\n' "$dir/bootstrap.sh"
}

@test "the bootstrap runs its jobs in this order, then says whether it changed the host" {
  stub id 'echo 0'
  local script
  script=$(entry_point)
  run env DEPLOY_USER=deploy DEPLOY_SSH_KEY="$KEY" ADMIN_CIDRS=203.0.113.7/32 bash "$script"
  [ "$status" -eq 0 ]
  [ "$output" = "job check_inputs
job install_security_tooling
job guard_against_lockout
job set_up_deploy_user
job install_sudoers
job harden_sshd
job set_up_firewall
job set_up_fail2ban
job set_up_automatic_updates /etc/apt/apt.conf.d
job harden_kernel
job take_smaller_measures
job set_up_log_rotation
job install_docker /etc/apt/sources.list.d
job keep_out_of_docker_group deploy
job guard_metadata_service /usr/local/sbin
job install_caddy /etc/apt/sources.list.d
job make_platform_folders
bootstrap: done: nothing to change" ]
  run env CHANGES=1 DEPLOY_USER=deploy DEPLOY_SSH_KEY="$KEY" ADMIN_CIDRS=203.0.113.7/32 bash "$script"
  [ "${lines[-1]}" = "bootstrap: done: changes made" ]
}

@test "the bootstrap stops before any job when it is not root, or an input is missing" {
  local script
  script=$(entry_point)
  stub id 'echo 1000'
  run env DEPLOY_USER=deploy DEPLOY_SSH_KEY="$KEY" ADMIN_CIDRS=203.0.113.7/32 bash "$script"
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: run as root (sudo bash bootstrap.sh)" ]
  stub id 'echo 0'
  run env DEPLOY_USER=deploy DEPLOY_SSH_KEY="$KEY" bash "$script"
  [ "$status" -ne 0 ]
  [[ $output == *"ADMIN_CIDRS: set ADMIN_CIDRS to the networks allowed to SSH in" ]]
  [[ $output != *job* ]]
}

@test "check_inputs: valid inputs pass" {
  run check_inputs
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "check_inputs: a deploy user that is root or not a user name stops the run" {
  DEPLOY_USER=root run check_inputs
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: DEPLOY_USER 'root' is not a valid name for the deploy user (lower case, e.g. deploy; not root)" ]
  DEPLOY_USER='Deploy;rm' run check_inputs
  [ "$status" -eq 1 ]
}

@test "check_inputs: a key that is not one public key line stops the run" {
  DEPLOY_SSH_KEY="ssh-ed25519 not-a-key" run check_inputs
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: DEPLOY_SSH_KEY is not one OpenSSH public key line (the contents of a .pub file, e.g. ssh-ed25519 AAAA... deploy)" ]
  DEPLOY_SSH_KEY="$KEY"$'\n'"$KEY" run check_inputs
  [ "$status" -eq 1 ]
}

@test "check_inputs: no admin network, or one that is not a network, stops the run" {
  ADMIN_CIDRS="  " run check_inputs
  [ "$output" = "bootstrap: ERROR: ADMIN_CIDRS names no network; SSH would be closed to everybody" ]
  ADMIN_CIDRS="203.0.113.7/32 203.0.113.8" run check_inputs
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: ADMIN_CIDRS: '203.0.113.8' is not an address range; write networks as 203.0.113.7/32 or 2001:db8::/48, separated by spaces" ]
}

@test "check_inputs: SSH_PORT must be a port number" {
  for port in 0 65536 22a 022; do
    SSH_PORT=$port run check_inputs
    [ "$status" -eq 1 ]
    [ "$output" = "bootstrap: ERROR: SSH_PORT '$port' is not a port number (1-65535; config sshPort)" ]
  done
  SSH_PORT=65535 run check_inputs
  [ "$status" -eq 0 ]
}

@test "sshd_listen_ports: the ports of sshd -T, each once, in order" {
  stub sshd 'printf "port 2222\nport 22\nlistenaddress 0.0.0.0:22\nport 22\n"'
  run sshd_listen_ports
  [ "$status" -eq 0 ]
  [ "$output" = "22 2222" ]
  [ "$(calls)" = "sshd -T" ]
  stub sshd 'exit 255'
  stops_with "sshd -T names no port sshd listens on; see: sshd -t" sshd_listen_ports
}

@test "check_session_allowed: a session from an admin network on SSH_PORT passes, and so does a console" {
  run check_session_allowed "203.0.113.7 22" "22" 203.0.113.7 2001:db8::/48
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run check_session_allowed "2001:db8::5 22" "22 2222" 203.0.113.7 2001:db8::/48
  [ "$status" -eq 0 ]
  run check_session_allowed "" "22" 203.0.113.7
  [ "$status" -eq 0 ]
  [ "$output" = "bootstrap: not run over SSH: no session to check against the admin networks" ]
}

@test "check_session_allowed: sshd not listening on SSH_PORT stops the run, naming the port to set" {
  SSH_PORT=2200 stops_with "sshd listens on port 2222, 2223, not on SSH_PORT 2200 (config sshPort), the only port the firewall would open: set sshPort to the port sshd listens on (pulumi config set sshPort 2222); nothing was changed" \
    check_session_allowed "203.0.113.7 2222" "2222 2223" 203.0.113.7
}

@test "check_session_allowed: a session from outside the admin networks stops the run, naming the config to add" {
  stops_with "this session comes from 198.51.100.4, which is in none of ADMIN_CIDRS (203.0.113.7/32 2001:db8::/48; config adminCidrs): the firewall and the deploy key would refuse the next login from there. Add it (pulumi config set --path 'adminCidrs[2]' 198.51.100.4/32) and run again; nothing was changed" \
    check_session_allowed "198.51.100.4 22" "22" 203.0.113.7 2001:db8::/48
}

@test "check_session_allowed: a session through another port stops the run" {
  stops_with "this session reached SSH on port 2222, but SSH_PORT is 22 (config sshPort): the firewall would close the port it came through. Set sshPort to the port you reach SSH on, or connect on 22; nothing was changed" \
    check_session_allowed "203.0.113.7 2222" "22 2222" 203.0.113.7
}

@test "guard_against_lockout: the admin networks as ufw and sshd write them, from the run's own session" {
  stub sshd 'echo "port 22"'
  mkdir -p "$PLATFORM_PROC/$$"
  printf 'SSH_CONNECTION=203.0.113.7 50122 198.51.100.10 22\0' >"$PLATFORM_PROC/$$/environ"
  ADMIN_CIDRS="203.0.113.7/32 2001:DB8:0::1/48"
  guard_against_lockout
  [ "${admin_networks[*]}" = "203.0.113.7 2001:db8::/48" ]
  [ "$deploy_from" = "203.0.113.7,2001:db8::/48" ]
  [ "$sshd_ports" = "22" ]
  printf 'SSH_CONNECTION=192.0.2.1 50122 198.51.100.10 22\0' >"$PLATFORM_PROC/$$/environ"
  run guard_against_lockout
  [ "$status" -eq 1 ]
  [[ $output == "bootstrap: ERROR: this session comes from 192.0.2.1, which is in none of ADMIN_CIDRS"* ]]
}

@test "guard_against_lockout: networks that cannot be read (no python3) stop the run" {
  normalize_cidrs() { return 1; }
  run guard_against_lockout
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: ADMIN_CIDRS could not be read as networks (203.0.113.7/32 2001:db8::/48): python3 is needed" ]
}
