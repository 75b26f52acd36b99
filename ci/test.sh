#!/usr/bin/env bash
# The README's test command (b), in a fresh virtual environment; fails when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# --- README command (b) ---
pip install -e ".[dev]" torch==2.13.0 && python -m pytest 2>&1 | tee "$log"
# ---------------------------
status=${PIPESTATUS[0]}
if ! grep -Eq '[0-9]+ passed' "$log"; then
    echo "ci: no test passed" >&2
    exit 1
fi
exit "$status"
