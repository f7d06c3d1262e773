#!/usr/bin/env bash
# Builds the local S3 endpoint the backup tests upload to (tools/s3-fake, on
# gofakes3) from Go modules, cached by the hash of its sources like the
# engine. Prints the binary's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
source=tools/s3-fake
cache="${PLATFORM_CACHE_DIR:-$HOME/.cache/conversational-platform}/s3-fake"
command -v go >/dev/null || {
  echo "Building the test S3 endpoint needs Go 1.25 or newer" >&2
  exit 127
}
key=$({
  go version
  sha256sum "$source"/*.go "$source"/go.mod "$source"/go.sum
} | sha256sum | cut -c1-16)
out="$cache/$key/s3-fake"
if [ ! -x "$out" ]; then
  mkdir -p "$cache/$key"
  (cd "$source" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.partial.$$" .)
  mv -f "$out.partial.$$" "$out"
fi
echo "$out"
