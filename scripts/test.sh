#!/usr/bin/env bash
# The project's single "run the whole test suite" command:
#   start the real test servers (scripts/test-servers.sh), run `cargo test --all-targets`
#   with any extra arguments passed through, and always stop the servers again.
# Exits with cargo's status (or the server start-up's, if that fails).
#
#   scripts/test.sh                      # everything
#   scripts/test.sh -- --nocapture       # extra args go to cargo test
#   MAILCHECK_TEST_SERVERS_SKIP=1 scripts/test.sh   # use servers started by hand
#                                                   # (real-server tests fail without them)
# Needs root for the servers (ports < 1024, apt-get); CI runs it as root.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MAILCHECK_TEST_SERVERS=${MAILCHECK_TEST_SERVERS:-/tmp/mailcheck-test-servers}

if [[ ${MAILCHECK_TEST_SERVERS_SKIP:-0} != 1 ]]; then
  # Stop even when cargo fails or we are interrupted (EXIT traps do not run on an
  # untrapped signal, so turn INT/TERM into an ordinary exit).
  trap 'bash scripts/test-servers.sh stop' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  bash scripts/test-servers.sh start
  # Make the servers' coordinates visible to the tests (also readable from
  # $MAILCHECK_TEST_SERVERS/env).
  set -a
  # shellcheck source=/dev/null
  . "$MAILCHECK_TEST_SERVERS/env"
  set +a
fi

status=0
cargo test --all-targets "$@" || status=$?
exit "$status"
