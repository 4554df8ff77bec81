#!/usr/bin/env bash
# The full soak with faults (issue 12): 200,000 calls at 64 concurrency, 10 % of
# requests answered with a fault by the test server; every total must equal the
# server's own count and memory must stay flat. Release mode, niced.
#   SOAK_CALLS=50000 scripts/soak.sh   # a shorter run
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_CALLS="${SOAK_CALLS:-200000}"
nice cargo test --release --test soak soak_full -- --ignored --nocapture 2>&1 | grep -E "SOAK|test result|panicked|assert"
