#!/usr/bin/env bash
# Runs the Pulumi CLI with this project's defaults, so no account is needed:
# stack state in a local file backend (.pulumi-state/) unless
# PULUMI_BACKEND_URL says otherwise (https://api.pulumi.com for Pulumi Cloud,
# s3://bucket?endpoint=...&region=... for S3-compatible storage such as Vultr
# Object Storage). Secrets use a passphrase unless the stack says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null; then
  echo "The Pulumi CLI is not installed. Install it: curl -fsSL https://get.pulumi.com | sh" >&2
  exit 127
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi

if [[ "$PULUMI_BACKEND_URL" != https://* ]] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  echo "Set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it encrypts this stack's secrets." >&2
  echo "Keep it in a password manager; without it the stack's secrets cannot be read." >&2
  exit 1
fi

exec pulumi "$@"
