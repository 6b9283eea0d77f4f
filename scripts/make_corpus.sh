#!/usr/bin/env bash
# The LCM training corpus in one command: fetch every source, select the documents, encode them into shards.
# Every step resumes where it stopped (finished sources and shards are skipped), so run it again after an interruption.
#   scripts/make_corpus.sh                      # into ~/.cache/lcm-toolkit (or $LCM_CACHE)
#   CODEC=embedded DOCS_PER_SHARD=200 scripts/make_corpus.sh
# Encoding ~1 M sentences takes about 30-60 minutes on one CPU core (embedded codec); it runs niced on one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CACHE=${LCM_CACHE:-$HOME/.cache/lcm-toolkit}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$PY" -m lcm.data.corpora fetch
"$PY" scripts/make_lcm_data.py --out "$CACHE/lcm-data"
for split in heldout valid test train; do
  echo "== encoding $split"
  nice "$PY" -m lcm prepare "$CACHE/lcm-data/docs_$split.jsonl" -o "$CACHE/shards/corpus/$split" \
    --docs-per-shard "${DOCS_PER_SHARD:-200}" --codec "${CODEC:-embedded}"
done
echo "corpus table: $CACHE/lcm-data/corpus.md; shards: $CACHE/shards/corpus/{train,valid,test,heldout}"
