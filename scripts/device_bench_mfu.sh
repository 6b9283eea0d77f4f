#!/usr/bin/env bash
# Training throughput and MFU of the ~100M-parameter Base-LCM on one GPU, 1 process, bf16.
# For a GPU machine whose python3 already holds torch, numpy, pyarrow, pyyaml, rich and safetensors (all that
# `lcm train` needs), with no venv and no network: copy the working tree there (scripts/device_tree.sh keeps it under
# a 64 MiB upload limit) and run this from its root; the repo is used in place through PYTHONPATH. Wheels in .whl/
# (if copied along) are installed first. Writes $OUT/bench_mfu.json and $OUT/bench_mfu.log. About 2-3 minutes.
# Usage:  bash scripts/device_bench_mfu.sh [more bench/bench_distributed.py options, e.g. --steps 100 --batch 32768]
# Runs on CPU too, for a check of the script itself:  PYTHON=.venv/bin/python DEVICE=cpu bash scripts/device_bench_mfu.sh \
#   --preset tiny --configs 1x1,step --steps 6 --warmup 2 --peak-tflops 0.1
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
"$PY" -c "import torch, numpy, pyarrow, yaml, rich, safetensors" || {
  echo "missing Python packages above: carry their wheels in .whl/ (see the device README)" >&2; exit 1; }
"$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda, '| GPU:',
  torch.cuda.get_device_name() if torch.cuda.is_available() else 'none')"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || true
"$PY" bench/bench_distributed.py --device "$DEVICE" --preset 100m --json "$OUT/bench_mfu.json" "$@" 2>&1 \
  | tee "$OUT/bench_mfu.log"
