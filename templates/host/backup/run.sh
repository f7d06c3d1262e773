#!/usr/bin/env bash
# Managed by conversational-platform (templates/host/backup/run.sh).
# What platform-backup.service runs: the compose stack's backup service
# (dist/backup.cjs, from scripts/backup/scheduled.ts) in a one-off container
# on the stack's network, where NATS is nats:4222.
APP_DIR=$(cd "$(dirname "$0")/.." && pwd)
LOG_PREFIX=platform-backup
# shellcheck source=templates/host/lib.sh
. "$APP_DIR/backup/lib.sh"
platform_compose --profile backup run --rm -T backup
