#!/usr/bin/env bash
# Creates .venv and installs the project into it with the exact versions of
# requirements.lock (once; again only when pyproject.toml or the lock changes).
# torch and torchvision come from the package registry as a matched pair: pip's
# --isolated ignores any local find-links that would pair a CPU-only torch with
# a torchvision built for another torch (which breaks segmentation-models-pytorch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
# The project's own bytecode, written here (only what changed): every Ray worker of a study imports
# these modules, and where PYTHONDONTWRITEBYTECODE is set each process would compile them again.
compile_project() { .venv/bin/python -m compileall -q orchestrator trainables search_spaces >/dev/null; }
if [ -f "$stamp" ]; then compile_project; exit 0; fi
echo "setting up .venv (first run downloads about 5 GB and takes a few minutes)..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: Python >= 3.11 is needed (set PYTHON=...)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --isolated --quiet --constraint requirements.lock)
.venv/bin/python -m pip install --isolated --quiet --upgrade pip
"${pip[@]}" torch torchvision
# PYTHONWARNINGS: setuptools warns on every editable install that the mode is new; nothing to act on.
PYTHONWARNINGS=ignore "${pip[@]}" --editable ".[test]"
rm -f .venv/.installed-*
touch "$stamp"
compile_project
echo ".venv is ready"
