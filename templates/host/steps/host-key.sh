# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/host-key.sh).
# Step "host-key", on a server this program created, before every other
# step: replaces the ed25519 host key cloud-init installed from the user
# data (which the metadata service and the Vultr API hand out for the
# server's whole life) with one that exists only here and in the stack's
# state. It runs over a connection that checked the server's key; the
# program confirms the new key on a new connection before it pins it, and
# accepts the old one until then, so a failure at any point locks nobody out.
# Inputs: HOST_KEY_PUBLIC (the public line), HOST_KEY_PRIVATE_B64 (base64).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=host-key

# cloud-init writes the first-boot key, and may still restart sshd (runcmd,
# for sshPort): let it finish before touching either.
if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || true; fi

# sshd's folder: /etc/ssh (SSH_DIR is for the tests, test/templates/bats/host-key-step.bats).
key=${SSH_DIR:-/etc/ssh}/ssh_host_ed25519_key
new="$key.platform-new"
# Private from its first byte, beside the live key so the rename is atomic.
(umask 077 && decode HOST_KEY_PRIVATE_B64 "$new")
derived=$(ssh-keygen -y -f "$new" 2>/dev/null | cut -d' ' -f1,2) || true
if [ "$derived" != "$HOST_KEY_PUBLIC" ]; then
  rm -f "$new"
  fail "the new host key's private half is not its public line's pair; nothing was changed"
fi
was=$(ssh-keygen -lf "$key.pub" 2>/dev/null | cut -d' ' -f2) || was="none"
if cmp -s "$new" "$key"; then
  # An earlier run got this far: only the reload below may be missing.
  rm -f "$new"
else
  printf '%s\n' "$HOST_KEY_PUBLIC" >"$new.pub"
  chmod 0644 "$new.pub"
  # The old pair stays beside the new one until sshd accepts it.
  if [ -e "$key" ]; then cp -p "$key" "$key.platform-old"; fi
  if [ -e "$key.pub" ]; then cp -p "$key.pub" "$key.platform-old.pub"; fi
  mv -f "$new.pub" "$key.pub"
  mv -f "$new" "$key"
  mkdir -p /run/sshd
  if ! sshd -t; then
    if [ -e "$key.platform-old" ]; then mv -f "$key.platform-old" "$key"; fi
    if [ -e "$key.platform-old.pub" ]; then mv -f "$key.platform-old.pub" "$key.pub"; fi
    fail "sshd refuses its configuration with the new host key (sshd -t, above); the old key is back in place"
  fi
  rm -f "$key.platform-old" "$key.platform-old.pub"
  log "installed a new $key"
fi
# sshd reads its host keys when it starts or reloads (open sessions, this
# one too, keep theirs): reload whether the file changed now or on a run
# that stopped before this line.
systemctl try-reload-or-restart ssh.service
echo "host key: $(ssh-keygen -lf "$key.pub" | cut -d' ' -f2) (was $was)"
