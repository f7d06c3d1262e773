#!/usr/bin/env bash
# Builds the Pulumi engine this project runs (`npm run pulumi`, the tests, CI)
# from Go modules: the CLI at the version tools/engine/go.mod pins, this
# project's Node.js language host, and the dynamic-provider plugin script.
# Nothing is downloaded from get.pulumi.com or GitHub. The result is cached by
# the hash of its inputs, so a second run only prints the folder. Prints the
# folder that holds the binaries on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
source=tools/engine
cache="${PLATFORM_CACHE_DIR:-$HOME/.cache/conversational-platform}/engine"

if ! command -v go >/dev/null; then
  echo "Building the Pulumi engine needs Go 1.25 or newer (https://go.dev/dl/, or your package manager)." >&2
  exit 127
fi

version=$(sed -n 's|^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 \(v[0-9.]*\)$|\1|p' "$source/go.mod")
if [ -z "$version" ]; then
  echo "$source/go.mod does not pin github.com/pulumi/pulumi/pkg/v3" >&2
  exit 1
fi
key=$({
  go version
  find "$source" -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -path "$source/bin/*" \) -print0 |
    sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
out="$cache/$version-$key"
if [ -x "$out/pulumi" ]; then
  echo "$out"
  exit 0
fi

echo "building the Pulumi engine $version from Go modules (a few minutes the first time)" >&2
started=$SECONDS
work="$out.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
flags=(-trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version")
(
  cd "$source"
  CGO_ENABLED=0 go build "${flags[@]}" -o "$work/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${version#v}" -o "$work/pulumi-language-nodejs" ./language-host
)
install -m 0755 "$source/bin/pulumi-resource-pulumi-nodejs" "$work/"
"$work/pulumi" version >/dev/null
# Only a complete build takes the final name, and never over another one:
# a concurrent build that finished first is kept (and may be running).
mv -T "$work" "$out" 2>/dev/null || rm -rf "$work"
trap - EXIT
echo "built the Pulumi engine $version in $((SECONDS - started)) s: $out" >&2
echo "$out"
