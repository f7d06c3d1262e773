#!/bin/sh
# Managed by conversational-platform (templates/host/docker/metadata-guard.sh).
# Do not edit on the host: the next deploy overwrites it.
# Installed as /usr/local/sbin/platform-metadata-guard, run by
# platform-metadata-guard.service after every start of Docker, and by the
# bootstrap. Containers never reach the cloud's metadata service
# (169.254.169.254): it answers anyone on the instance with its user data,
# which held the server's first host key. One rule in DOCKER-USER, the chain
# Docker leaves to the administrator and consults before its own rules for
# every packet it forwards to or from a container; the host itself (cloud-init
# at boot) still reaches the service, its packets are not forwarded.
# Prints what it added; prints nothing when the rule was already there.
set -eu
# REJECT, not DROP: a container that asks gets an answer at once (refused)
# instead of hanging until its own timeout; nothing gets through either way.
set -- -d 169.254.169.254/32 -m comment --comment "platform: containers never reach the metadata service" -j REJECT
# -w: wait for the xtables lock (Docker and ufw change rules at the same time).
if ! iptables -w -C DOCKER-USER "$@" 2>/dev/null; then
  iptables -w -I DOCKER-USER 1 "$@"
  echo "DOCKER-USER: containers' traffic to 169.254.169.254 is refused"
fi
