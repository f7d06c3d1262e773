# shellcheck shell=dash
# Managed by conversational-platform (templates/host/security/profile-session.sh).
# Do not edit on the host: the next deploy overwrites it.
# Installed as /etc/profile.d/platform-session.sh: read by interactive login
# shells only; deploys (non-interactive `bash -s` over SSH) are untouched.

# An interactive shell left idle for 15 minutes logs out, so a forgotten
# root session on an operator's laptop does not stay open. Read-only so a
# user's own profile cannot lift it.
# (Guarded: sourcing the profile again must not fail on the read-only value.)
if [ "${TMOUT:-}" != 900 ]; then
  TMOUT=900
  readonly TMOUT
  export TMOUT
fi

# No core dumps from anything started in a shell (see limits-nocore.conf).
ulimit -c 0
