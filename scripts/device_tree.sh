#!/usr/bin/env bash
# For copying the working tree (tracked and untracked-not-ignored files) to a GPU machine that has a 64 MiB upload
# limit: the shipped weights alone are ~104 MiB. Before a GPU run that does not need them (codec or LCM training,
# bench_distributed), move them into the git-ignored .device-stash/; put them back right after.
#   bash scripts/device_tree.sh stash      # then copy the tree to the GPU machine
#   bash scripts/device_tree.sh restore    # ALWAYS before committing: `git status` must not show them deleted
#   bash scripts/device_tree.sh size       # what would travel now
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTS=(encoders/embedded/weights/model.safetensors lcm/pretrained/base_lcm/model.safetensors
         lcm/pretrained/base_lcm_sum/model.safetensors lcm/pretrained/two_tower/model.safetensors
         lcm/pretrained/quant_lcm/model.safetensors)
size() { git ls-files -co --exclude-standard -z | du -ch --apparent-size --files0-from=- 2>/dev/null | tail -1; }
case "${1:-}" in
  stash)
    for f in "${WEIGHTS[@]}"; do
      [ -f "$f" ] || continue
      mkdir -p ".device-stash/$(dirname "$f")" && mv "$f" ".device-stash/$f"
    done
    echo "stashed; the tree that travels is now: $(size)" ;;
  restore)
    for f in "${WEIGHTS[@]}"; do
      [ -f ".device-stash/$f" ] && mv ".device-stash/$f" "$f"
    done
    git diff --quiet -- "${WEIGHTS[@]}" && echo "restored; weights unchanged" \
      || { echo "restored, but the weights differ from HEAD: check git status" >&2; exit 1; } ;;
  size) size ;;
  *) echo "usage: $0 stash|restore|size" >&2; exit 2 ;;
esac
