#!/usr/bin/env bash
# The image searches: an `rl` study and a `random` study over the tile space,
# in one database, with the same budget (the same number of children, each
# trained for the same epochs, no pruning: equal child-epochs). The child is
# the regime found by regime.sh (fm1k-wrn-10-1): wrn-10-1 on 1 000
# Fashion-MNIST images for 30 epochs, rewarded by accuracy on 2 000 held-out
# validation images; every child trains from the same seed, so rewards differ
# by pattern (and its masks) only. --resume with the full flags starts a study
# or continues it after a kill.
# The studies grow in rounds of 20 trials, alternating, so that a session cut
# short leaves both at the same budget.
# Usage: experiments/images/search.sh [TRIALS]   (default 40 per study)
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=${1:-40}
mkdir -p experiments/images/search
for ((round = 20; round < trials + 20; round += 20)); do
 n=$((round < trials ? round : trials))
 for strategy in rl random; do
  ./autodropout search --task fashion-mnist --model wrn-10-1 --train-limit 1000 --val-size 2000 --epochs 30 \
    --space tile --strategy "$strategy" --trials "$n" --update-every 4 --seed 0 --workers 2 \
    --db experiments/images/search/search.db --name "$strategy" --resume
 done
done
