# shellcheck shell=bash disable=SC2034 # admin_networks, sshd_ports, deploy_from are read by the bootstrap's later jobs
# Managed by conversational-platform (templates/host/bootstrap/checks.sh).
# What the bootstrap checks before it changes anything: its inputs, and that
# the firewall and the deploy key it is about to narrow would still let the
# operator in. Sourced by the bootstrap after lib.sh and ssh-access.sh.

# check_inputs: DEPLOY_USER, DEPLOY_SSH_KEY, ADMIN_CIDRS and SSH_PORT are
# what they claim to be; bad input stops the run before it changes anything.
check_inputs() {
  local cidr
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
}

# sshd_listen_ports: the ports sshd listens on (sshd -T), space-separated, in order.
sshd_listen_ports() {
  local ports
  mkdir -p /run/sshd
  ports=$(sshd -T 2>/dev/null | awk '$1 == "port" { print $2 }' | sort -un | tr '\n' ' ')
  ports=${ports% }
  [ -n "$ports" ] || fail "sshd -T names no port sshd listens on; see: sshd -t"
  printf '%s\n' "$ports"
}

# check_session_allowed SESSION SSHD_PORTS CIDR...: stops the run unless sshd
# listens on SSH_PORT and SESSION ("ADDRESS PORT" from ssh_session_origin;
# empty outside SSH) comes from one of the networks, through SSH_PORT: from
# here on the firewall and the deploy key admit only those, on that port, and
# the next login would otherwise be refused.
check_session_allowed() {
  local session=$1 ports=$2 address port
  shift 2
  case " $ports " in
    *" $SSH_PORT "*) ;;
    *) fail "sshd listens on port ${ports// /, }, not on SSH_PORT $SSH_PORT (config sshPort), the only port the firewall would open: set sshPort to the port sshd listens on (pulumi config set sshPort ${ports%% *}); nothing was changed" ;;
  esac
  if [ -z "$session" ]; then
    log "not run over SSH: no session to check against the admin networks"
    return 0
  fi
  read -r address port <<<"$session"
  address_in_cidrs "$address" "$@" ||
    fail "this session comes from $address, which is in none of ADMIN_CIDRS ($ADMIN_CIDRS; config adminCidrs): the firewall and the deploy key would refuse the next login from there. Add it (pulumi config set --path 'adminCidrs[$#]' $address/32) and run again; nothing was changed"
  [ "$port" = "$SSH_PORT" ] ||
    fail "this session reached SSH on port $port, but SSH_PORT is $SSH_PORT (config sshPort): the firewall would close the port it came through. Set sshPort to the port you reach SSH on, or connect on $SSH_PORT; nothing was changed"
}

# guard_against_lockout: the admin networks as sshd and ufw write them
# (admin_networks, and deploy_from for sshd's from=), the ports sshd listens
# on (sshd_ports), and the run stopped unless its own session would get in again.
guard_against_lockout() {
  local list session
  # shellcheck disable=SC2086 # one network a word
  list=$(normalize_cidrs $ADMIN_CIDRS) || fail "ADMIN_CIDRS could not be read as networks ($ADMIN_CIDRS): python3 is needed"
  mapfile -t admin_networks <<<"$list"
  sshd_ports=$(sshd_listen_ports)
  # Apart, so that a failure to tell stops the run (set -e) before anything changes.
  session=$(ssh_session_origin "$$") || fail "could not tell where this session comes from; nothing was changed"
  check_session_allowed "$session" "$sshd_ports" "${admin_networks[@]}"
  deploy_from=$(
    IFS=,
    echo "${admin_networks[*]}"
  )
}
