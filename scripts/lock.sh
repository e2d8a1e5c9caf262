#!/usr/bin/env bash
# Rewrites requirements.lock: resolves pyproject.toml (with the test extra) in a
# throwaway virtual environment and freezes every installed version. Commit the
# lock after the tests pass; scripts/setup.sh installs exactly these versions.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -m venv "$scratch/venv"
pip=("$scratch/venv/bin/python" -m pip install --isolated --quiet)
"${pip[@]}" --upgrade pip
"${pip[@]}" torch torchvision
PYTHONWARNINGS=ignore "${pip[@]}" -e ".[test]"
{
    echo "# Exact versions for scripts/setup.sh (a pip constraints file). Regenerate: bash scripts/lock.sh"
    "$scratch/venv/bin/python" -m pip freeze --exclude-editable --isolated | grep -v '^pip=='
} > requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pinned packages)"
