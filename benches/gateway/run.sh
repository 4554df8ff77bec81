#!/usr/bin/env bash
# The gateway benchmark: direct vs through `elelem serve` at 100/1000/5000 rps
# (open loop, instant testkit server), then the official `openai` Python SDK
# (plain and streaming) against the gateway, from a virtual environment under
# target/. Extra arguments go to the bench (e.g. --secs 5 --rates 100,1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check openai
cargo bench -p elelem-cli --bench gateway -- --python "$PWD/$venv/bin/python" "$@"
