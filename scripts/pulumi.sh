#!/usr/bin/env bash
# Runs this project's Pulumi engine (built from Go modules by
# scripts/setup/build-engine.sh; see tools/engine/README.md) with the
# project's defaults, so no account is needed: stack state in a local file
# backend (.pulumi-state/, named by Pulumi.yaml so a stock `pulumi` run here
# finds it too) unless PULUMI_BACKEND_URL says otherwise
# (s3://bucket?endpoint=...&region=... for S3-compatible storage such as Vultr
# Object Storage, https://api.pulumi.com for Pulumi Cloud). Secrets use a
# passphrase unless the stack says otherwise. It tells the program which
# policy pack it passes (infra/policies/pack-required.ts), since the program
# refuses to run without it.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=$(bash scripts/setup/build-engine.sh | tail -n 1)
# The language host and the dynamic-provider plugin sit beside the CLI; the
# CLI looks there and on PATH before it would try to download anything.
export PATH="$engine:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true

# Commands that read no stack need neither a backend nor a passphrase.
case "${1:-}" in version | about | help | "") exec pulumi "$@" ;; esac
for arg in "$@"; do case "$arg" in --help | -h) exec pulumi "$@" ;; esac done

# Pulumi.yaml's backend, resolved from this folder; the CLI does not create it.
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then mkdir -p .pulumi-state; fi

# The pack this run passes, or none (a value left in the caller's environment
# must not stand in for the flag).
unset PLATFORM_POLICY_PACK
previous=""
for arg in "$@"; do
  if [ "$previous" = --policy-pack ]; then export PLATFORM_POLICY_PACK="$arg"; fi
  case "$arg" in --policy-pack=*) export PLATFORM_POLICY_PACK="${arg#--policy-pack=}" ;; esac
  previous=$arg
done

if [[ "${PULUMI_BACKEND_URL:-}" != https://* ]] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  echo "Set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it encrypts this stack's secrets." >&2
  echo "Keep it in a password manager; without it the stack's secrets cannot be read." >&2
  exit 1
fi

exec pulumi "$@"
