#!/usr/bin/env bash
# The gateway benchmark, all of it: a direct call vs through `elelem serve` vs
# through LiteLLM's proxy, open loop at 100/1000/5000 rps, plain and streaming
# (instant testkit server), then the official `openai` Python SDK against the
# gateway. Writes target/gateway-bench.md. Extra arguments go to the bench
# (e.g. --secs 1 --rates 100 for a smoke run; --modes plain|stream;
# --rounds N, default 5: interleaved direct/gateway rounds per row;
# --gateway-workers N: `elelem serve --workers N`, default one per core).
# LiteLLM is installed from PyPI into target/bench-venv; if that fails the
# script says so and runs the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench-venv
out=target/gateway-bench.md
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
pip() { "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"; }
pip openai
litellm_args=()
if [ -x "$venv/bin/litellm" ] || pip 'litellm[proxy]'; then
    litellm_args=(--litellm "$PWD/$venv/bin/litellm")
else
    echo "run.sh: LiteLLM's proxy (pip install 'litellm[proxy]') could not be installed; measuring without it" >&2
fi
cargo bench -p elelem-cli --bench gateway -- \
    --python "$PWD/$venv/bin/python" "${litellm_args[@]}" --out "$PWD/$out" "$@"
echo "run.sh: the table is in $out"
