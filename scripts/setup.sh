#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: CPU torch first, then the toolkit.
# Usage: scripts/setup.sh [--test]     (--test also installs the test extras)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
stamp=".venv/.lcm-installed${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # Pin the CPU build first: a bare `torch` requirement would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
