#!/usr/bin/env bash
# Installs the system packages the test suite runs for real: Caddy, the
# validators of the host's files (OpenSSH, fail2ban, logrotate, shellcheck, kmod,
# sudo's visudo), bats and python3 (the host scripts' shell functions, tested
# with stubbed commands),
# the Docker engine and busybox (for locally built images), debootstrap and
# systemd-nspawn (the systemd test host), chromium (the browser the CORS
# test drives through playwright-core), and, from Debian trixie (fetched without adding trixie
# to the system's sources), nats-server 2.10 and Docker Compose v2. Safe to
# re-run: it only installs what is missing. Needs root and Debian's package
# archive; without root it prints exactly what is missing and exits non-zero.
set -euo pipefail

tools_dir="${PLATFORM_TOOLS_DIR:-$HOME/.cache/conversational-platform/bin}"
mkdir -p "$tools_dir"

# Debian packages, by the command each provides.
declare -A debian_packages=(
  [caddy]=caddy [sshd]=openssh-server [fail2ban-client]=fail2ban [logrotate]=logrotate
  [shellcheck]=shellcheck [dockerd]=docker.io [busybox]=busybox-static
  [debootstrap]=debootstrap [systemd-nspawn]=systemd-container [iptables]=iptables
  [modprobe]=kmod [bats]=bats [visudo]=sudo [python3]=python3 [chromium]=chromium
)
apt_missing=()
for command in "${!debian_packages[@]}"; do
  command -v "$command" >/dev/null || [ -x "/usr/sbin/$command" ] || apt_missing+=("${debian_packages[$command]}")
done
compose_plugin="$HOME/.docker/cli-plugins/docker-compose"

missing=("${apt_missing[@]}")
[ -x "$tools_dir/nats-server" ] || missing+=(nats-server-2.10)
[ -x "$compose_plugin" ] || missing+=(docker-compose-v2)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages for the tests: ${missing[*]}." >&2
  echo "Run this script as root (it uses apt-get), or install them yourself:" >&2
  echo "  Debian packages: ${apt_missing[*]:-none}" >&2
  echo "  nats-server >= 2.10 at $tools_dir/nats-server, Docker Compose v2 at $compose_plugin" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o Dpkg::Use-Pty=0 -qq "$@"; }

if [ ${#apt_missing[@]} -gt 0 ]; then
  apt_get update
  # Services these packages start where an init system runs are not used:
  # the tests run their own instances on ephemeral ports.
  apt_get install -y "${apt_missing[@]}" >/dev/null
fi

# Bookworm has nats-server 2.9 and Compose 1.29 (too old for `name:`); the
# stack targets NATS 2.10 and Compose v2, which trixie has.
if [ ! -x "$tools_dir/nats-server" ] || [ ! -x "$compose_plugin" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
  apt_opts=(-o APT::Sandbox::User=root -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::archives=$work/archives")
  apt_get "${apt_opts[@]}" update
  (cd "$work" && apt_get "${apt_opts[@]}" download nats-server docker-compose)
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
  install -m 0755 "$work/root/usr/sbin/nats-server" "$tools_dir/nats-server"
  install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$compose_plugin"
fi
"$tools_dir/nats-server" --version
docker compose version
