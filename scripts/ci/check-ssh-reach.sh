#!/usr/bin/env bash
# Before a deploy from CI: can this machine reach the server's SSH port?
# Only the stack's adminCidrs can (Vultr's firewall and the host's ufw), and
# a deploy from anywhere else would wait for its SSH dial timeout and fail.
# This fails in seconds instead, saying what to do. A stack with no server
# yet passes: its first `up` creates the firewall with the runner's rules.
# When the stack pins the server's host key (output sshHostKey), the server
# must present that key (read without logging in, as the deploy would check it).
#   bash scripts/ci/check-ssh-reach.sh STACK
set -euo pipefail
stack=${1:?usage: check-ssh-reach.sh STACK}
cd "$(dirname "$0")/../.."

# A backend, passphrase or stack problem must fail here, not pass as "no server".
if ! outputs=$(bash scripts/pulumi.sh stack output --json --stack "$stack"); then
  echo "could not read the outputs of stack $stack (see above)" >&2
  exit 1
fi
output() { node -e 'const o = JSON.parse(process.argv[1]); process.stdout.write(o[process.argv[2]] ?? "")' "$outputs" "$1"; }
address=$(output ipv4)
pinned=$(output sshHostKey)
if [ -z "$address" ]; then
  echo "stack $stack has no server address yet: nothing to check"
  exit 0
fi
port=$(bash scripts/pulumi.sh config get sshPort --stack "$stack" 2>/dev/null || echo 22)
fingerprint() { ssh-keygen -lf /dev/stdin <<<"$1" | cut -d' ' -f2; }
if [ -n "$pinned" ]; then
  # One connection, for the pinned key's type only (ssh-keyscan's -t names).
  case ${pinned%% *} in
    ssh-ed25519) type=ed25519 ;;
    ecdsa-*) type=ecdsa ;;
    *) type=rsa ;;
  esac
  presented=$(timeout 15 ssh-keyscan -T 10 -t "$type" -p "$port" "$address" 2>/dev/null | awk '!/^#/ { print $2, $3; exit }' || true)
  if [ -n "$presented" ]; then
    if [ "$presented" = "$(cut -d' ' -f1,2 <<<"$pinned")" ]; then
      echo "SSH at $address:$port answers, with the pinned host key $(fingerprint "$pinned")"
      exit 0
    fi
    echo "SSH at $address:$port answers with the host key $(fingerprint "$presented"), not the pinned $(fingerprint "$pinned"):" >&2
    echo "the deploy would refuse it. Check the key on the server's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub);" >&2
    echo "only if it is the one presented, pin it: pulumi config set sshHostKey \"<that .pub line>\" --stack $stack." >&2
    exit 1
  fi
  # Nothing of the pinned type: the server may still answer, with keys of other types only.
  offered=$(timeout 15 ssh-keyscan -T 10 -p "$port" "$address" 2>/dev/null | awk '!/^#/ { print $2, $3 }' || true)
  if [ -n "$offered" ]; then
    echo "SSH at $address:$port answers, but offers no host key of the pinned type (${pinned%% *}); the pinned key is $(fingerprint "$pinned")." >&2
    echo "It offers: $(while read -r line; do printf '%s (%s) ' "$(fingerprint "$line")" "${line%% *}"; done <<<"$offered")" >&2
    echo "The deploy would refuse it. Check the keys on the server's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub);" >&2
    echo "only if one of them is offered here, pin it: pulumi config set sshHostKey \"<that .pub line>\" --stack $stack." >&2
    exit 1
  fi
else
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
  if timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$address" "$port" 2>/dev/null; then
    echo "SSH at $address:$port answers"
    exit 0
  fi
fi
echo "This machine cannot reach SSH at $address:$port (10 s). Only the stack's adminCidrs can." >&2
echo "Run this job on a runner whose public address is in adminCidrs (a self-hosted runner labelled platform-deploy)," >&2
echo "or add this runner's address to adminCidrs and run pulumi up once from an admin machine." >&2
exit 1
