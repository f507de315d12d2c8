#!/usr/bin/env bash
# Which image child overfits so that the classic dropouts buy test accuracy?
# Each candidate regime is one `autodropout compare` of no dropout against
# tuned element-wise dropout, SpatialDropout and DropBlock (each tuned on the
# validation split, then 3 seeds on the test split). Rerunning continues a
# killed comparison; a finished one is only re-summarised.
# Usage: experiments/images/regime.sh [NAME ...]   (default: every regime)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/images/regime

declare -A regime=(
  [fm1k-wrn-10-1]='--model wrn-10-1 --train-limit 1000 --epochs 30'
  [fm1k-wrn-10-2]='--model wrn-10-2 --train-limit 1000 --epochs 30'
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(fm1k-wrn-10-1 fm1k-wrn-10-2)
for name in "${names[@]}"; do
  [ -n "${regime[$name]:-}" ] || { echo "regime.sh: unknown regime $name" >&2; exit 2; }
  # shellcheck disable=SC2086  # the regime's flags are meant to split
  ./autodropout compare --task fashion-mnist --val-size 2000 ${regime[$name]} \
    --patterns none \
    --grid 'dropout:rate=0.1,0.2,0.3' \
    --grid 'spatial:rate=0.05,0.1,0.2' \
    --grid 'dropblock:keepProb=0.8,0.9;blockSize=3,5' \
    --seeds 3 --workers 2 --out "$here/$name"
done
