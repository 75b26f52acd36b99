#!/usr/bin/env bash
# Runs the README's main-job command (a) in a fresh virtual environment and checks that
# it printed a throughput line (a smoke test of the install + demo path).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
. "$venv/bin/activate"
# --- README command (a) ---
pip install -e . && python -m dataio demo | tee "$venv/out.txt"
# ---------------------------
grep -q "samples/s" "$venv/out.txt"
