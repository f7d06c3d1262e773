# shellcheck shell=bash disable=SC2034 # "changed" is read by the scripts that source this
# Managed by conversational-platform (templates/host/lib.sh).
# The helpers every host script shares: the bootstrap and each deploy step
# (templates/host/steps/). Sourced, not run; LOG_PREFIX names the script in
# its messages. Every script stops at the first error.
set -euo pipefail
# Set to 1 by anything that changes the host, so a script can say whether it did.
changed=0

log() { printf '%s: %s\n' "${LOG_PREFIX:-platform}" "$*"; }
fail() {
  printf '%s: ERROR: %s\n' "${LOG_PREFIX:-platform}" "$*" >&2
  exit 1
}

# render TEMPLATE NAME=VALUE...: fills {{NAME}} placeholders, and fails if
# any is left (a missing value) or a value holds a line break.
render() {
  local template=$1 out pair
  shift
  out=$(cat "$template")
  for pair in "$@"; do
    case "${pair#*=}" in *$'\n'*) fail "$template: the value for ${pair%%=*} holds a line break" ;; esac
    out=${out//"{{${pair%%=*}}}"/"${pair#*=}"}
  done
  if grep -q '{{[A-Z_]*}}' <<<"$out"; then fail "$template: no value for $(grep -o '{{[A-Z_]*}}' <<<"$out" | head -1)"; fi
  printf '%s\n' "$out"
}

# install_file SRC DEST MODE OWNER:GROUP [VALIDATE...]: installs SRC as DEST
# only if it differs, after VALIDATE (run with the new file's path appended)
# accepts it; a file that fails validation leaves the live one as it is.
# Returns 0 when it installed, 1 when DEST was already the same.
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  shift 4
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
    return 1
  fi
  if [ $# -gt 0 ] && ! "$@" "$src"; then
    fail "$dest: the new version does not validate; the live file was left as it is"
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest"
  log "installed $dest"
  changed=1
  return 0
}

# decode NAME FILE: writes the base64 value of the variable NAME to FILE (how
# a deploy step receives the files it installs).
decode() {
  printf '%s' "${!1:?no value for $1}" | base64 -d >"$2"
}

# load_env FILE: exports FILE's NAME=value lines as systemd's EnvironmentFile=
# reads them: the rest of the line is the value, spaces included (a shell
# would run "a=b c" as the command c).
load_env() {
  local line
  while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    export "${line%%=*}=${line#*=}"
  done <"$1"
}
