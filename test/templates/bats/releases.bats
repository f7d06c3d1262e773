#!/usr/bin/env bats
# shellcheck disable=SC2317 # the stubs below are called by the code under test
# The release step (templates/host/steps/release.sh) and the library's image
# and release decisions (templates/host/lib.sh), with docker stubbed: which
# releases are pruned, that pruning waits for nobody and happens only under
# the deploy lock a rollback takes, and when an image is pulled.

bats_require_minimum_version 1.5.0

LIB="$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
RELEASE_STEP="$BATS_TEST_DIRNAME/../../../templates/host/steps/release.sh"

setup() {
  # shellcheck source=templates/host/lib.sh
  . "$LIB"
  # lib.sh turns on -u, which bats itself is not written for; -e stays.
  set +u
  export APP_DIR="$BATS_TEST_TMPDIR/app"
  mkdir -p "$APP_DIR/releases"
  # A docker that records its calls: images listed in $BATS_TEST_TMPDIR/images are present.
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cat >"$BATS_TEST_TMPDIR/bin/docker" <<'STUB'
#!/bin/sh
echo "docker $*" >>"$CALLS"
if [ "$1 $2" = "image inspect" ]; then grep -qxF "$3" "$IMAGES"; exit; fi
if [ "$1" = pull ]; then [ -z "$PULL_FAILS" ] && echo "${3:-$2}" >>"$IMAGES"; exit; fi
exit 0
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/docker"
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH" CALLS="$BATS_TEST_TMPDIR/calls" IMAGES="$BATS_TEST_TMPDIR/images"
  : >"$IMAGES"
}

teardown() {
  if [ -n "$holder" ]; then kill "$holder" 2>/dev/null || true; fi
}

# release ID AGE: a release directory, AGE minutes old.
release() {
  mkdir -p "$APP_DIR/releases/$1"
  echo "bundle $1" >"$APP_DIR/releases/$1/api.cjs"
  touch -d "-$2 minutes" "$APP_DIR/releases/$1"
}

# run_release_step ID: the step as a deploy runs it (bash -s with its inputs).
run_release_step() {
  local stage="$BATS_TEST_TMPDIR/stage"
  mkdir -p "$stage"
  cp "$LIB" "$stage/lib.sh"
  echo "console.log('$1')" >"$APP_DIR/releases/upload-$1.cjs"
  run env PLATFORM_STAGE="$stage" APP_DIR="$APP_DIR" RELEASE_ID="$1" RELEASES_KEPT=2 API_IMAGE=node@sha256:aa \
    bash "$RELEASE_STEP"
}

remaining() { find "$APP_DIR/releases" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' '; }

@test "releases_to_prune: past the newest KEEP, never the one in service or the new one, never an upload" {
  release aaa1 60
  release aaa2 50
  release aaa3 40
  release aaa4 30
  release aaa5 20
  echo upload >"$APP_DIR/releases/upload-ccc.cjs"
  touch -d "-90 minutes" "$APP_DIR/releases/upload-ccc.cjs"
  run releases_to_prune "$APP_DIR/releases" 2 aaa5 aaa1
  [ "$status" -eq 0 ]
  [ "$output" = "aaa2" ]
  run releases_to_prune "$APP_DIR/releases" 5 aaa5 aaa1
  [ "$output" = "" ]
}

@test "the release step installs the bundle, then prunes under the deploy lock, sparing the release in service" {
  release 0000000000a1 60
  release 0000000000a2 50
  release 0000000000a3 40
  release 0000000000a4 30
  echo 0000000000a1 >"$APP_DIR/current-release"
  echo node@sha256:aa >"$IMAGES"
  run_release_step 0000000000b1
  [ "$status" -eq 0 ]
  [ "$(cat "$APP_DIR/releases/0000000000b1/api.cjs")" = "console.log('0000000000b1')" ]
  [ "$(remaining)" = "0000000000a1 0000000000a3 0000000000a4 0000000000b1 " ]
  [[ $output == *"release: removed release 0000000000a2"* ]]
  # It held the lock, as a deploy or rollback does.
  [ "$(cut -d' ' -f1 "$APP_DIR/.deploy.lock.holder")" = "someone" ]
}

@test "while a rollback holds the deploy lock, the release step prunes nothing and says who holds it" {
  release 0000000000a1 60
  release 0000000000a2 50
  release 0000000000a3 40
  release 0000000000a4 30
  echo 0000000000a4 >"$APP_DIR/current-release"
  echo node@sha256:aa >"$IMAGES"
  echo "ops rollback since 2026-12-06T10:00:00Z" >"$APP_DIR/.deploy.lock.holder"
  flock "$APP_DIR/.deploy.lock" sleep 60 &
  holder=$!
  until ! flock -n "$APP_DIR/.deploy.lock" true; do sleep 0.05; done
  run_release_step 0000000000b1
  [ "$status" -eq 1 ]
  [[ $output == *"another deploy is running here (ops rollback since 2026-12-06T10:00:00Z)"* ]]
  [ "$(remaining)" = "0000000000a1 0000000000a2 0000000000a3 0000000000a4 0000000000b1 " ]
}

@test "ensure_image: an image the engine has is never pulled" {
  echo node@sha256:aa >"$IMAGES"
  changed=0
  ensure_image node@sha256:aa apiImage
  [ "$(cat "$CALLS")" = "docker image inspect node@sha256:aa" ]
  [ "$changed" -eq 0 ]
}

@test "ensure_image: a new digest is pulled once, then found" {
  changed=0
  ensure_image nats@sha256:bb natsImage >/dev/null
  ensure_image nats@sha256:bb natsImage
  [ "$(cat "$CALLS")" = "docker image inspect nats@sha256:bb
docker pull --quiet nats@sha256:bb
docker image inspect nats@sha256:bb" ]
  [ "$changed" -eq 1 ]
}

@test "ensure_image: an image that cannot be pulled stops the step, naming the setting" {
  export PULL_FAILS=1
  run ensure_image nats@sha256:cc natsImage
  [ "$status" -eq 1 ]
  [[ $output == *"ERROR: cannot pull nats@sha256:cc (config natsImage): check its name and digest"* ]]
}

@test "the release step: with no API_IMAGE, the stack's own image checks the bundle; a bundle that does not parse stays an upload" {
  printf 'API_IMAGE=node@sha256:ee\n' >"$APP_DIR/.env"
  echo node@sha256:ee >"$IMAGES"
  local stage="$BATS_TEST_TMPDIR/stage"
  mkdir -p "$stage"
  cp "$LIB" "$stage/lib.sh"
  echo "console.log(" >"$APP_DIR/releases/upload-0000000000c1.cjs"
  # docker run: the bundle's syntax, as node --check would judge it.
  # shellcheck disable=SC2016 # expanded by the stub when it runs
  printf '#!/bin/sh\necho "docker $*" >>"$CALLS"\n[ "$1" != run ] || exit 1\n' >"$BATS_TEST_TMPDIR/bin/docker"
  run env PLATFORM_STAGE="$stage" APP_DIR="$APP_DIR" RELEASE_ID=0000000000c1 RELEASES_KEPT=2 API_IMAGE="" bash "$RELEASE_STEP"
  [ "$status" -eq 1 ]
  [ "$(cat "$CALLS")" = "docker image inspect node@sha256:ee
docker run --rm --network none -v $APP_DIR/releases/upload-0000000000c1.cjs:/app/api.cjs:ro node@sha256:ee node --check /app/api.cjs" ]
  [ "$(remaining)" = "upload-0000000000c1.cjs " ]
}

@test "the release step: a release already installed is not checked again; its upload is dropped" {
  release 0000000000c1 10
  echo node@sha256:aa >"$IMAGES"
  run_release_step 0000000000c1
  [ "$status" -eq 0 ]
  [ "$(cat "$APP_DIR/releases/0000000000c1/api.cjs")" = "bundle 0000000000c1" ]
  [ ! -e "$CALLS" ] || [ "$(grep -c '^docker run' "$CALLS")" -eq 0 ]
  [ "$(remaining)" = "0000000000c1 " ]
}
