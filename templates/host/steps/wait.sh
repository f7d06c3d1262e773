# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/wait.sh).
# Deploy step "wait": the host answers SSH. cloud-init creates the deploy user
# and is still installing packages when SSH first answers (apt would fail
# under it): wait for it to finish.
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX="wait"

if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || true; fi
echo "host ready: $(uname -n)"
