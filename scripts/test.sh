#!/usr/bin/env bash
# README command 2: set up, then run the test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two workers, a test module each at a time (module fixtures run once), slowest modules first
# (tests/conftest.py): the suite's Ray studies overlap each other's waits. TEST_WORKERS=0: one process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder "$@"
