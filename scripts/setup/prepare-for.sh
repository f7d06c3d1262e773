#!/usr/bin/env bash
# Gets this machine ready for `npm run <command>` (test, local, dev or
# bench): npm runs it first, as the command's pre-script, so each command
# works on a fresh machine by itself. scripts/setup/needs.sh decides what
# each needs; this installs what is missing and builds what it runs.
# nats-server 2.10 and Docker Compose v2 come from Debian trixie's packages,
# unpacked into ~/.cache/conversational-platform/bin and
# ~/.docker/cli-plugins (any user may); Debian packages from the archive
# with apt-get, which needs root: without it, this prints exactly which are
# missing and the command that installs them, and exits non-zero. Safe to
# re-run: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/needs.sh
source scripts/setup/needs.sh

command=${1:-}
if ! needs_of "$command" >/dev/null; then
  echo "usage: bash scripts/setup/prepare-for.sh test|local|dev|bench" >&2
  exit 2
fi

mapfile -t missing < <(missing_for "$command")
debian=()
trixie=()
for package in ${missing[@]+"${missing[@]}"}; do
  if from_trixie "$package" >/dev/null; then trixie+=("$(from_trixie "$package")"); else debian+=("$package"); fi
done

# As root, apt-get drops to the _apt user, who cannot write to a folder of
# root's; as anyone else it works in that folder as is.
apt_get() {
  if [ "$(id -u)" -eq 0 ]; then set -- -o APT::Sandbox::User=root "$@"; fi
  DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -qq "$@"
}

# Bookworm's nats-server and Compose are too old; trixie's are unpacked into
# this user's folders, without adding trixie to the system's sources.
if [ ${#trixie[@]} -gt 0 ]; then
  echo "unpacking ${trixie[*]} from Debian trixie's packages" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/cache"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::Cache::archives=$work/archives")
  apt_get "${apt_opts[@]}" update
  (cd "$work" && apt_get "${apt_opts[@]}" download "${trixie[@]}")
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
  if [ -e "$work/root/usr/sbin/nats-server" ]; then
    install -D -m 0755 "$work/root/usr/sbin/nats-server" "$tools_dir/nats-server"
    "$tools_dir/nats-server" --version >&2
  fi
  if [ -e "$work/root/usr/libexec/docker/cli-plugins/docker-compose" ]; then
    install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$compose_plugin"
    "$compose_plugin" version >&2
  fi
fi

if [ ${#debian[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    report_missing "$command" "${debian[@]}" >&2
    exit 1
  fi
  echo "installing for npm run $command: ${debian[*]}" >&2
  apt_get update
  # Services these packages start where an init system runs are not used:
  # the tests and the local stack run their own.
  apt_get install -y "${debian[@]}" >/dev/null
fi

for build in $(builds_of "$command"); do
  case "$build" in
    node) bash scripts/setup/fetch-node.sh >/dev/null ;;
    engine) bash scripts/setup/build-engine.sh >/dev/null ;;
    s3-fake) bash scripts/setup/build-go-tool.sh s3-fake >/dev/null ;;
    # Linked where scripts/setup/tools.ts looks for it.
    caddy) caddy=$(bash scripts/setup/build-go-tool.sh caddy) && mkdir -p "$tools_dir" && ln -sfn "$caddy" "$tools_dir/caddy" ;;
    # On stderr: what the command prints (a bench's table) stays its own.
    bundles) npm run -s build >&2 ;;
  esac
done
