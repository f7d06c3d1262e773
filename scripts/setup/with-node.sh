#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH (scripts/setup/fetch-node.sh
# finds or fetches it), so it and every `node` it starts (vitest, tsx, the
# Pulumi language host, the API) run on Node 24 whatever node npm runs on.
set -euo pipefail
node_bin=$(bash "$(dirname "$0")/fetch-node.sh")
export PATH="$node_bin:$PATH"
exec "$@"
