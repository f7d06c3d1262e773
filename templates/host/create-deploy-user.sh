#!/usr/bin/env bash
# Managed by conversational-platform (templates/host/create-deploy-user.sh).
# For a server you bring (config existingServer): run it once, as root, so
# that `pulumi up` can log in. It does what cloud-init does on a new Vultr
# instance: the deploy user with the stack's public key and sudo without a
# password (the host steps run unattended). The bootstrap then hardens SSH,
# turns root logins off, accepts this key only from adminCidrs (from=) and
# logs the user's sudo commands.
#
#   scp templates/host/create-deploy-user.sh root@SERVER:
#   ssh root@SERVER DEPLOY_USER=deploy DEPLOY_SSH_KEY="'$(cat ~/.ssh/platform-deploy.pub)'" bash create-deploy-user.sh
set -euo pipefail

DEPLOY_USER=${DEPLOY_USER:-deploy}
DEPLOY_SSH_KEY=${DEPLOY_SSH_KEY:?set DEPLOY_SSH_KEY to the public key of the stack (config sshPublicKey)}
fail() {
  printf 'create-deploy-user: ERROR: %s\n' "$*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run as root"
if ! [[ $DEPLOY_USER =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || [ "$DEPLOY_USER" = root ]; then
  fail "DEPLOY_USER '$DEPLOY_USER' is not a valid name for the deploy user (lower case, e.g. deploy; not root)"
fi
if [[ $DEPLOY_SSH_KEY == *$'\n'* ]] || ! ssh-keygen -l -f /dev/stdin <<<"$DEPLOY_SSH_KEY" >/dev/null 2>&1; then
  fail "DEPLOY_SSH_KEY is not one OpenSSH public key line (the contents of a .pub file)"
fi

created=no
if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$DEPLOY_USER"
  created=yes
fi
home=$(getent passwd "$DEPLOY_USER" | cut -d: -f6)
install -d -m 0700 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
touch "$keys"
grep -qxF "$DEPLOY_SSH_KEY" "$keys" || printf '%s\n' "$DEPLOY_SSH_KEY" >>"$keys"
chown "$DEPLOY_USER:$DEPLOY_USER" "$keys"
chmod 0600 "$keys"
# A new account is locked ("!"), which sshd refuses without PAM: no password
# instead (the bootstrap then sets a random one nobody knows). An existing
# account keeps the password it has.
if [ "$created" = yes ] || [[ "$(getent shadow "$DEPLOY_USER" | cut -d: -f2)" == "!"* ]]; then
  usermod -p '*' "$DEPLOY_USER"
fi
sudoers=$(mktemp)
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$DEPLOY_USER" >"$sudoers"
visudo -cqf "$sudoers" || fail "the sudoers line does not validate"
install -m 0440 "$sudoers" /etc/sudoers.d/90-platform-deploy
rm -f "$sudoers"
echo "create-deploy-user: $DEPLOY_USER can log in with the key of the stack; next: pulumi up"
