#!/usr/bin/env bash
# The long fuzzing run, before each release: every property-based fuzz target with
# FUZZ_CASES inputs (default 10 million each), in release mode. The quick run (256
# cases per target) is part of `cargo test`.
#
#   scripts/fuzz-long.sh              # 10 million cases per target
#   FUZZ_CASES=100000 scripts/fuzz-long.sh
#
# The core targets (SSE decoding, JSON extraction, think splitting, retry-after,
# money, catalogue files, token bounds) take minutes per million cases; the
# provider targets go over HTTP to a local test server and take far longer, so
# their case count is FUZZ_PROVIDER_CASES (default a tenth of FUZZ_CASES).
set -euo pipefail
cd "$(dirname "$0")/.."

cases="${FUZZ_CASES:-10000000}"
provider_cases="${FUZZ_PROVIDER_CASES:-$((cases / 10))}"

echo "==> core targets: ${cases} cases each"
FUZZ_CASES="$cases" cargo test --release --locked -p elelem-core --test fuzz -- --test-threads=2

echo "==> provider targets: ${provider_cases} cases each"
FUZZ_CASES="$provider_cases" cargo test --release --locked --test fuzz_providers -- --test-threads=1

echo "fuzzing passed: ${cases} core and ${provider_cases} provider cases per target, no panic, no hang"
