#!/usr/bin/env bash
# README command 2: set up, then run the test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two workers (pytest-xdist), each test file whole on one: see SLOWEST_FIRST in tests/conftest.py.
# TEST_WORKERS=0 runs everything in this one process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder "$@"
