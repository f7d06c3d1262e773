#!/usr/bin/env bash
# Builds one of the Go programs in tools/ from Go modules, cached by the hash
# of its sources (and of the Go toolchain) like the engine:
#   s3-fake  the local S3 endpoint the backup tests upload to (gofakes3)
#   caddy    Caddy at the version tools/caddy/go.mod pins (Debian's is too old)
# Prints the binary's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
tool=${1:-}
case "$tool" in
  s3-fake | caddy) ;;
  *)
    echo "usage: bash scripts/setup/build-go-tool.sh s3-fake|caddy" >&2
    exit 2
    ;;
esac
source=tools/$tool
cache="${PLATFORM_CACHE_DIR:-$HOME/.cache/conversational-platform}/$tool"
command -v go >/dev/null || {
  echo "Building $tool needs Go 1.25 or newer (https://go.dev/dl/), then run this again" >&2
  exit 127
}
key=$({
  go version
  sha256sum "$source"/*.go "$source"/go.mod "$source"/go.sum
} | sha256sum | cut -c1-16)
out="$cache/$key/$tool"
if [ ! -x "$out" ]; then
  mkdir -p "$cache/$key"
  echo "building $tool from Go modules (once; cached in $cache)" >&2
  (cd "$source" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.partial.$$" .)
  mv -f "$out.partial.$$" "$out"
fi
echo "$out"
