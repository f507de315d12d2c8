#!/usr/bin/env bash
# Does mixed precision change what a child learns? The search children of the
# image and text experiments, trained in float32 and with --precision bf16
# (autocast to bfloat16, float32 master weights), with no dropout, plain
# dropout and a structured pattern (images: the best rl tile pattern of
# experiments/images; text: variational dropout, the sequence mask path),
# seeds 1-3 each, measured once on the test split. Every run pairs with the
# run of the same pattern and seed in the other precision (summary.mjs).
# The runs share the machine with other work: their seconds are not speed
# figures (bench:precision measures speed).
# Rerunning continues a killed comparison; a finished one is only re-summarised.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/precision
rl="best:experiments/images/search/search.db:rl"
for p in fp32 bf16; do
  ./autodropout compare --task fashion-mnist --val-size 2000 --model wrn-10-1 --train-limit 1000 --epochs 30 \
    --patterns "none,preset:dropout,$rl" --precision "$p" \
    --first-seed 1 --seeds 3 --workers 2 --out "$here/fm1k-wrn-10-1-$p"
  ./autodropout compare --task sotu --model tlm-2-64 --train-limit 50000 --vocab-size 2000 --epochs 30 \
    --patterns none,preset:dropout,preset:variational --precision "$p" \
    --first-seed 1 --seeds 3 --workers 2 --out "$here/sotu50k-tlm-2-64-$p"
done
node experiments/precision/summary.mjs "$here/fm1k-wrn-10-1-fp32" "$here/fm1k-wrn-10-1-bf16" > "$here/summary-images.md"
node experiments/precision/summary.mjs "$here/sotu50k-tlm-2-64-fp32" "$here/sotu50k-tlm-2-64-bf16" > "$here/summary-text.md"
cat "$here/summary-images.md" "$here/summary-text.md"
