# shellcheck shell=bash
# Stubbed commands for the host scripts' bats tests: each stub, put on the
# PATH ahead of the real command, appends its name and arguments to $CALLS
# (one line a call), then does what the test asked (by default nothing,
# successfully), so a test can assert word for word what a script ran.

# use_stubs: an empty call log, and the stubs' folder first on the PATH.
use_stubs() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  export CALLS="$BATS_TEST_TMPDIR/calls" PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  : >"$CALLS"
}

# stub NAME [BODY]: NAME records each call, then runs BODY (bash; its
# arguments are the call's).
stub() {
  {
    echo '#!/usr/bin/env bash'
    # shellcheck disable=SC2016 # written into the stub, expanded when it runs
    printf 'printf "%%s\\n" "%s $*" >>"$CALLS"\n' "$1"
    printf '%s\n' "${2:-exit 0}"
  } >"$BATS_TEST_TMPDIR/bin/$1"
  chmod +x "$BATS_TEST_TMPDIR/bin/$1"
}

# calls: what the stubs were called with, in order.
calls() { cat "$CALLS"; }
