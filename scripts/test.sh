#!/usr/bin/env bash
# Run the whole test suite (sets up the virtual environment first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-repro
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest "$@"
