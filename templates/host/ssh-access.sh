# shellcheck shell=bash
# Managed by conversational-platform (templates/host/ssh-access.sh).
# Who may log in with the deploy key, and the checks that keep the operator
# from locking themself out. Sourced by the bootstrap after lib.sh.

# ssh_session_origin [PID]: "ADDRESS PORT" of the SSH session PID (this
# shell by default) runs in: the client's address and the server port it
# reached, from the nearest process up the tree whose environment holds
# SSH_CONNECTION (sudo clears it from its own). Prints nothing outside SSH
# (a console, a timer). Reads PLATFORM_PROC (/proc by default); needs root
# to read another user's process.
ssh_session_origin() {
  local pid=${1:-$$} proc=${PLATFORM_PROC:-/proc} connection
  local -a fields
  while [[ $pid =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ]; do
    connection=$(tr '\0' '\n' <"$proc/$pid/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p' | head -1)
    if [ -n "$connection" ]; then
      read -r -a fields <<<"$connection"
      printf '%s %s\n' "${fields[0]}" "${fields[3]}"
      return 0
    fi
    pid=$(awk '$1 == "PPid:" { print $2 }' "$proc/$pid/status" 2>/dev/null)
  done
}

# address_in_cidrs ADDRESS CIDR...: whether ADDRESS (IPv4 or IPv6, an
# IPv4-mapped IPv6 address counting as its IPv4 one) is in one of the networks.
address_in_cidrs() {
  python3 - "$@" <<'PY'
import ipaddress
import sys

address = ipaddress.ip_address(sys.argv[1])
if address.version == 6 and address.ipv4_mapped:
    address = address.ipv4_mapped
networks = [ipaddress.ip_network(text, strict=False) for text in sys.argv[2:]]
sys.exit(0 if any(address.version == n.version and address in n for n in networks) else 1)
PY
}

# deploy_authorized_keys FILE KEY FROM: FILE's lines with the line for KEY
# (the same key, with or without options, at its first place; a repeat
# dropped) written as KEY accepted only from FROM (sshd's from=, a
# comma-separated list of addresses and networks), and added at the end if
# it was missing. Other keys stay as they are.
deploy_authorized_keys() {
  local file=$1 key=$2 from=$3
  local -a parts
  read -r -a parts <<<"$key"
  { cat "$file" 2>/dev/null || true; } | awk -v type="${parts[0]}" -v blob="${parts[1]}" -v line="from=\"$from\" $key" '
    {
      for (i = 2; i <= NF; i++) {
        if ($i == blob && $(i - 1) == type) {
          if (!done) print line
          done = 1
          next
        }
      }
      print
    }
    END { if (!done) print line }
  '
}
