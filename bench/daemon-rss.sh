#!/usr/bin/env bash
# Memory of `popfetch daemon` over many rounds: runs the daemon against
# the test suite's Dovecot (started on loopback in a temporary directory)
# with a 1 ms interval, a new message every tenth round, and prints its
# RSS (VmRSS from /proc/PID/status) after round 10 and after the last.
#
#   bench/daemon-rss.sh            # 1000 rounds
#   bench/daemon-rss.sh 5000       # more
#
# The 1 ms interval is allowed only with POPFETCH_TESTING_SHORT_INTERVALS=1,
# which the test sets for the daemon it starts; never use it against a
# real server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export POPFETCH_RSS_ROUNDS="${1:-1000}"
exec cargo test --test it daemon::daemon_rss_against_dovecot -- --ignored --exact --nocapture
