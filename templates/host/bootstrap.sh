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
# The jobs, one file each: what is checked first, apt, who may log in,
# hardening the host, and what the platform runs on.
# shellcheck source=templates/host/bootstrap/checks.sh
. "$here/bootstrap/checks.sh"
# shellcheck source=templates/host/bootstrap/packages.sh
. "$here/bootstrap/packages.sh"
# shellcheck source=templates/host/bootstrap/access.sh
. "$here/bootstrap/access.sh"
# shellcheck source=templates/host/bootstrap/hardening.sh
. "$here/bootstrap/hardening.sh"
# shellcheck source=templates/host/bootstrap/runtime.sh
. "$here/bootstrap/runtime.sh"
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
check_inputs
export DEBIAN_FRONTEND=noninteractive

# In this order: the firewall and the deploy key are narrowed only after
# the run's own session is known to get in again (guard_against_lockout),
# SSH's password and root logins turned off only once the deploy key is in
# place, and the firewall allows SSH from the admin networks before it is enabled.
install_security_tooling
guard_against_lockout
set_up_deploy_user
install_sudoers
harden_sshd
set_up_firewall
set_up_fail2ban
set_up_automatic_updates /etc/apt/apt.conf.d
harden_kernel
take_smaller_measures
set_up_log_rotation
install_docker /etc/apt/sources.list.d
keep_out_of_docker_group "$DEPLOY_USER"
guard_metadata_service /usr/local/sbin
install_caddy /etc/apt/sources.list.d
make_platform_folders

if [ "$changed" -eq 1 ]; then log "done: changes made"; else log "done: nothing to change"; fi
