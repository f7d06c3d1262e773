#!/usr/bin/env bash
# Installs the system packages the test suite runs for real: Caddy, a NATS
# 2.10 server (from Debian trixie, fetched without adding trixie to the
# system's sources), OpenSSH, shellcheck. Safe to re-run: it only installs
# what is missing. Needs root and Debian's package archive; without root it
# prints exactly what is missing and exits non-zero.
set -euo pipefail

tools_dir="${PLATFORM_TOOLS_DIR:-$HOME/.cache/conversational-platform/bin}"
mkdir -p "$tools_dir"

missing=()
command -v caddy >/dev/null || missing+=(caddy)
[ -x "$tools_dir/nats-server" ] || missing+=(nats-server-2.10)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages for the tests: ${missing[*]}." >&2
  echo "Run this script as root (it uses apt-get), or install them yourself:" >&2
  echo "  caddy (Debian package 'caddy'), nats-server >= 2.10 at $tools_dir/nats-server" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o Dpkg::Use-Pty=0 -qq "$@"; }

if ! command -v caddy >/dev/null; then
  apt_get update
  apt_get install -y caddy >/dev/null
  # The package starts a Caddy service where an init system exists; the
  # tests run their own Caddy instances on ephemeral ports.
fi

if [ ! -x "$tools_dir/nats-server" ]; then
  # Bookworm ships nats-server 2.9; the API and the compose stack target 2.10.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
  apt_opts=(-o APT::Sandbox::User=root -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::archives=$work/archives")
  apt_get "${apt_opts[@]}" update
  (cd "$work" && apt_get "${apt_opts[@]}" download nats-server)
  dpkg -x "$work"/nats-server_*.deb "$work/root"
  install -m 0755 "$work/root/usr/sbin/nats-server" "$tools_dir/nats-server"
fi
"$tools_dir/nats-server" --version
