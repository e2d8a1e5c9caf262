#!/usr/bin/env bash
# README command 1: set up, then run the demo study on generated data (local Ray, CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/orchestrate run studies/demo.yaml --storage "runs/$(date +%Y%m%d-%H%M%S)" "$@"
