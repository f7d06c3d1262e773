# shellcheck shell=bash disable=SC2034 # "changed" is read by the bootstrap, which sources this
# Managed by conversational-platform (templates/host/firewall.sh).
# Who may reach SSH through ufw: exactly one rule "allow from NETWORK to any
# port SSH_PORT proto tcp" per admin network, and no other rule that lets
# anyone reach that port. Sourced by the bootstrap after lib.sh.
#
# The rules are read from ufw's own rule files (/etc/ufw/user.rules and
# user6.rules), not from `ufw status`: those list the rules whether or not
# ufw is enabled, one machine-readable "### tuple ###" line per rule and
# address family, with application profiles (OpenSSH) already resolved to
# their ports, and each rule's IPv4 and IPv6 halves on separate lines.

# normalize_cidrs CIDR...: each network as ufw writes it in its rule files
# (and as sshd's from= wants it): host bits cleared, IPv6 compressed in lower
# case, a single address without /32 or /128.
normalize_cidrs() {
  python3 - "$@" <<'PY'
import ipaddress
import sys

for text in sys.argv[1:]:
    network = ipaddress.ip_network(text, strict=False)
    print(network.network_address if network.prefixlen == network.max_prefixlen else network)
PY
}

# ssh_firewall_plan SSH_PORT SSHD_PORTS USER_RULES USER6_RULES CIDR...: the
# ufw commands (arguments only, one command a line, each word shell-quoted)
# that leave exactly the admin rules for SSH_PORT: first the missing ones are
# added, then every other SSH rule is deleted. Additions come first, so SSH
# from the admin networks is never closed on the way.
# An SSH rule lets TCP in to SSH_PORT, or to a port sshd also listens on
# (SSHD_PORTS, space-separated, from sshd -T), or uses OpenSSH's application
# profile, or is one the bootstrap made ("SSH from admins", for an earlier
# sshPort): world-open ones, limits, rules bound to an interface or an
# address all go. A rule for another port (2222, 8022) is never touched, nor
# deny rules, nor outgoing ones. CIDRs as normalize_cidrs prints them.
# Fails, naming the rule, when a rule opens an SSH port together with other
# ports (a range, a list, every port): deleting it could cut another
# service, so that is the operator's call.
ssh_firewall_plan() {
  local port=$1 sshd_ports=$2 rules4=$3 rules6=$4 line
  shift 4
  local -a words
  local plan
  plan=$({ cat "$rules4" "$rules6" 2>/dev/null || true; } | awk -v port="$port" -v sshd_ports="$sshd_ports" -v cidrs="$*" '
    # The SSH port among the ports of a rule ("any", "22", "22,80", "20:30"), or "".
    function covers(ports, n, items, i, range, p) {
      if (ports == "any") return port
      n = split(ports, items, ",")
      for (i = 1; i <= n; i++) {
        if (split(items[i], range, ":") == 2) {
          for (p in ssh) if (p + 0 >= range[1] + 0 && p + 0 <= range[2] + 0) return p
        } else if (items[i] in ssh) return items[i]
      }
      return ""
    }
    function address(a) { return (a == "0.0.0.0/0" || a == "::/0") ? "any" : a }
    # The words of the rule as `ufw delete` takes them, tab-separated.
    function spec(    words, app) {
      app = (dapp != "" || sapp != "")
      words = action
      if (iface != "") words = words "\tin\ton\t" iface
      if (!app && proto != "any") words = words "\tproto\t" proto
      words = words "\tfrom\t" address(src)
      if (sapp != "") words = words "\tapp\t" sapp
      else if (sport != "any") words = words "\tport\t" sport
      words = words "\tto\t" address(dst)
      if (dapp != "") words = words "\tapp\t" dapp
      else if (dport != "any") words = words "\tport\t" dport
      return words
    }
    BEGIN {
      n = split(cidrs, list, " ")
      for (i = 1; i <= n; i++) admin[list[i]] = 1
      ssh[port] = 1
      split(sshd_ports, extra, " ")
      for (i in extra) ssh[extra[i]] = 1
      # "SSH from admins", as ufw stores a comment (hex).
      ours = "comment=5353482066726f6d2061646d696e73"
    }
    $1 == "###" && $2 == "tuple" && $3 == "###" {
      nf = NF
      comment = ""
      if ($nf ~ /^comment=/) comment = $(nf--)
      action = $4; proto = $5; dport = $6; dst = $7; sport = $8; src = $9
      dapp = ""; sapp = ""
      if (nf == 12) { dapp = $10; sapp = $11; direction = $12 } else direction = $10
      if (dapp == "-") dapp = ""
      if (sapp == "-") sapp = ""
      gsub(/%20/, " ", dapp); gsub(/%20/, " ", sapp)
      iface = ""
      if (split(direction, dir, "_") == 2) iface = dir[2]
      if (action != "allow" && action != "limit") next
      if (dir[1] != "in") next
      if (proto != "tcp" && proto != "any") next
      single = (dport !~ /[,:]/ && dport != "any")
      reached = covers(dport)
      if (reached != "") {
        if (!single) {
          shown = spec()
          gsub(/\t/, " ", shown)
          printf "error\tthe ufw rule \"%s\" opens SSH (port %s) together with other ports: narrow it or remove it (ufw delete %s), then run again\n", shown, reached, shown
          next
        }
      } else if (!(single && (dapp == "OpenSSH" || comment == ours))) next
      if (action == "allow" && proto == "tcp" && dport == port && address(dst) == "any" && sport == "any" && iface == "" && dapp == "" && sapp == "" && (src in admin)) {
        kept[src] = 1
        next
      }
      deletion = "delete\t" spec()
      if (!(deletion in seen)) { seen[deletion] = 1; deletions[++count] = deletion }
    }
    END {
      for (i = 1; i <= n; i++) {
        if (!(list[i] in kept)) printf "allow\tfrom\t%s\tto\tany\tport\t%s\tproto\ttcp\tcomment\tSSH from admins\n", list[i], port
      }
      for (i = 1; i <= count; i++) print deletions[i]
    }
  ') || return 1
  if grep -q $'^error\t' <<<"$plan"; then
    grep $'^error\t' <<<"$plan" | cut -f2- >&2
    return 1
  fi
  while IFS=$'\t' read -r -a words; do
    [ ${#words[@]} -gt 0 ] || continue
    printf -v line '%q ' "${words[@]}"
    printf '%s\n' "${line% }"
  done <<<"$plan"
}

# reconcile_ssh_firewall SSH_PORT SSHD_PORTS CIDR...: carries out
# ssh_firewall_plan on ufw's rule files (UFW_RULES_DIR, /etc/ufw by default),
# one ufw command at a time, in the plan's order.
reconcile_ssh_firewall() {
  local port=$1 sshd_ports=$2 dir=${UFW_RULES_DIR:-/etc/ufw} plan command
  shift 2
  plan=$(ssh_firewall_plan "$port" "$sshd_ports" "$dir/user.rules" "$dir/user6.rules" "$@") || fail "the firewall's SSH rules cannot be reconciled (see above); no SSH rule was changed"
  while IFS= read -r command; do
    [ -n "$command" ] || continue
    # The plan's words are shell-quoted by ssh_firewall_plan.
    eval "ufw $command" >/dev/null || fail "ufw $command failed"
    log "firewall: ufw $command"
    changed=1
  done <<<"$plan"
}
