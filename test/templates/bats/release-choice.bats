#!/usr/bin/env bats
# Which release a pulumi up leaves in service (release_to_serve in
# templates/host/lib.sh, used by the stack step): its own bundle when that
# changed since its last deploy, otherwise the release an ops deploy or
# rollback put in service. Pure: runs in milliseconds.

bats_require_minimum_version 1.5.0

setup() {
  # shellcheck source=templates/host/lib.sh
  . "$BATS_TEST_DIRNAME/../../../templates/host/lib.sh"
  # lib.sh turns on -u, which bats itself is not written for; -e stays.
  set +u
}

@test "a first deploy (nothing in service) serves its own bundle" {
  run release_to_serve 0000000000b1 "" ""
  [ "$status" -eq 0 ]
  [ "$output" = "0000000000b1" ]
}

@test "a changed bundle replaces the release an ops rollback put in service" {
  run release_to_serve 0000000000b2 0000000000a1 0000000000b1
  [ "$output" = "0000000000b2" ]
}

@test "an unchanged bundle keeps the release an ops deploy or rollback put in service" {
  run release_to_serve 0000000000b1 0000000000a1 0000000000b1
  [ "$output" = "0000000000a1" ]
}

@test "an unchanged bundle that is in service stays" {
  run release_to_serve 0000000000b1 0000000000b1 0000000000b1
  [ "$output" = "0000000000b1" ]
}

@test "a host deployed before pulumi-release was recorded serves the new bundle" {
  run release_to_serve 0000000000b1 0000000000a1 ""
  [ "$output" = "0000000000b1" ]
}
