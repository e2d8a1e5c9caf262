#!/usr/bin/env bash
# Creates .venv and installs the project into it (once; again only when pyproject.toml changes).
# torch and torchvision come from the package registry as a matched pair: pip's
# --isolated ignores any local find-links that would pair a CPU-only torch with
# a torchvision built for another torch (which breaks segmentation-models-pytorch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ]; then exit 0; fi
echo "setting up .venv (first run downloads about 5 GB and takes a few minutes)..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: Python >= 3.11 is needed (set PYTHON=...)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --isolated --quiet --upgrade pip
.venv/bin/python -m pip install --isolated --quiet torch torchvision
.venv/bin/python -m pip install --isolated --quiet -e ".[test]"
rm -f .venv/.installed-*
touch "$stamp"
