#!/usr/bin/env bats
# The metadata guard (templates/host/docker/metadata-guard.sh) with a stubbed
# iptables: it adds its DOCKER-USER rule only when the rule is missing, at
# the top of the chain, and says so; a second run changes nothing and says
# nothing. (On a real host: test/host/bootstrap.test.ts.)

bats_require_minimum_version 1.5.0

setup() {
  GUARD="$BATS_TEST_DIRNAME/../../../templates/host/docker/metadata-guard.sh"
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  # iptables as a list of rules in a file: -C looks a rule up, -I adds it.
  cat >"$BATS_TEST_TMPDIR/bin/iptables" <<'STUB'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$BATS_TEST_TMPDIR/calls"
[ "$1" = -w ] || exit 2
case $2 in
  -C) shift 3; grep -qxF -- "$*" "$BATS_TEST_TMPDIR/rules" 2>/dev/null ;;
  -I) shift 4; printf '%s\n' "$*" >>"$BATS_TEST_TMPDIR/rules" ;;
  *) exit 2 ;;
esac
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/iptables"
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH" BATS_TEST_TMPDIR
}

RULE='-d 169.254.169.254/32 -m comment --comment platform: containers never reach the metadata service -j REJECT'

@test "adds the rule at the top of DOCKER-USER when it is missing, and says so" {
  run sh "$GUARD"
  [ "$status" -eq 0 ]
  [ "$output" = "DOCKER-USER: containers' traffic to 169.254.169.254 is refused" ]
  [ "$(cat "$BATS_TEST_TMPDIR/rules")" = "$RULE" ]
  grep -qxF -- "-w -I DOCKER-USER 1 $RULE" "$BATS_TEST_TMPDIR/calls"
}

@test "changes nothing and prints nothing when the rule is there (a second run, a restart of Docker)" {
  sh "$GUARD" >/dev/null
  run sh "$GUARD"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/rules")" -eq 1 ]
}

@test "fails when the rule cannot be added (no DOCKER-USER chain: Docker not started)" {
  printf '#!/bin/sh\nexit 1\n' >"$BATS_TEST_TMPDIR/bin/iptables"
  run sh "$GUARD"
  [ "$status" -ne 0 ]
}
