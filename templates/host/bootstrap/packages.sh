# shellcheck shell=bash disable=SC2034 # "changed" is read by the bootstrap, which sources this
# Managed by conversational-platform (templates/host/bootstrap/packages.sh).
# Installing Debian packages from the bootstrap: only what is missing, and
# never failing on the dpkg lock a new VPS holds for its first minutes.
# Sourced by the bootstrap after lib.sh.

# packages_missing PACKAGE...: whether one of the packages is not installed.
packages_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

# apt_get ARGS...: apt-get that waits for the dpkg lock (up to 10 minutes):
# on a new VPS, apt-daily and unattended-upgrades hold it after boot.
apt_get() {
  apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# apt_install PACKAGE...: installs the packages when one is missing.
apt_install() {
  if packages_missing "$@"; then
    # --error-on=any: an archive that cannot be reached stops here, with
    # apt's own message, not later as one failure per package.
    apt_get update -qq --error-on=any
    apt_get install -y -qq --no-install-recommends "$@" >/dev/null
    log "installed packages: $*"
    changed=1
  fi
}
