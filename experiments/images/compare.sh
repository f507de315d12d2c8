#!/usr/bin/env bash
# The claim on images: the best `rl` pattern and the best `random` pattern of
# search.sh against no dropout and the tuned classic dropouts, on the search's
# child (wrn-10-1, 1 000 Fashion-MNIST images, 30 epochs), measured once on the
# 10 000 test images, 10 seeds each (seeds 1-5 ran first; 6-10 were fixed in
# advance and added by a rerun with --seeds 10). The search trained every child
# with seed 0, so the comparison uses seeds 1-10: the baselines' grids pick
# their setting on the validation split at seed 1, and no run of the search is
# reused.
# Then the same patterns, unchanged, on a wider child (wrn-10-2, the same slot
# names; its baselines are regime.sh's, seeds 0-2: the search never trained
# this child).
# Then the same patterns, unchanged, on MNIST (the same child and budget, 1 000
# training images; the baselines tuned again on MNIST's validation split),
# seeds 1-3.
# Rerunning continues a killed comparison; a finished one is only re-summarised.
# Usage: experiments/images/compare.sh [--seeds N]   (the wrn-10-1 comparison's
# seeds: 1..N, default 10; a larger N on a rerun adds seeds, keeping the runs made)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=10
if [ "${1:-}" = --seeds ]; then seeds=${2:?--seeds needs a number}; fi
db=experiments/images/search/search.db
grids=(--grid 'dropout:rate=0.1,0.2,0.3' --grid 'spatial:rate=0.05,0.1,0.2' --grid 'dropblock:keepProb=0.8,0.9;blockSize=3,5')
./autodropout compare --task fashion-mnist --val-size 2000 --model wrn-10-1 --train-limit 1000 --epochs 30 \
  --patterns "none,best:$db:rl,best:$db:random" "${grids[@]}" \
  --first-seed 1 --seeds "$seeds" --workers 2 --out experiments/images/compare/fm1k-wrn-10-1
# The transfer starts from a copy of regime.sh's wrn-10-2 comparison, so its
# baselines are not trained twice.
transfer=experiments/images/transfer/fm1k-wrn-10-2
if [ ! -f "$transfer/compare.db" ]; then
  mkdir -p "$transfer" && cp experiments/images/regime/fm1k-wrn-10-2/compare.db "$transfer/compare.db"
fi
./autodropout compare --task fashion-mnist --val-size 2000 --model wrn-10-2 --train-limit 1000 --epochs 30 \
  --patterns "none,best:$db:rl,best:$db:random" "${grids[@]}" \
  --seeds 3 --workers 2 --out "$transfer"
./autodropout compare --task mnist --val-size 2000 --model wrn-10-1 --train-limit 1000 --epochs 30 \
  --patterns "none,best:$db:rl,best:$db:random" "${grids[@]}" \
  --first-seed 1 --seeds 3 --workers 2 --out experiments/images/transfer/mnist1k-wrn-10-1
