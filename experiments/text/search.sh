#!/usr/bin/env bash
# The text searches: an `rl` study and a `random` study over the span space, in
# one database, with the same budget (the same number of children, each
# trained for the same epochs, no pruning: equal child-epochs). The child is
# the regime of probe.sh (sotu50k-tlm-2-64-v2000): tlm-2-64 on the last 50 000
# State of the Union training tokens, vocabulary 2 000, 30 epochs, rewarded by
# validation perplexity (80 / ppl); every child trains from the same seed, so
# rewards differ by pattern (and its masks) only. --resume with the full flags
# starts a study or continues it after a kill.
# The studies grow in rounds of 20 trials, alternating, so that a session cut
# short leaves both at the same budget.
# Usage: experiments/text/search.sh [TRIALS]   (default 40 per study)
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=${1:-40}
mkdir -p experiments/text/search
for ((round = 20; round < trials + 20; round += 20)); do
 n=$((round < trials ? round : trials))
 for strategy in rl random; do
  ./autodropout search --task sotu --model tlm-2-64 --train-limit 50000 --vocab-size 2000 --epochs 30 \
    --space span --strategy "$strategy" --trials "$n" --update-every 4 --seed 0 --workers 2 \
    --db experiments/text/search/search.db --name "$strategy" --resume
 done
done
