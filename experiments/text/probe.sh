#!/usr/bin/env bash
# Where does the text child overfit? One `autodropout train --json` run per
# configuration below, written to experiments/text/probe/NAME.json (its
# per-epoch validation perplexity is the learning curve); a configuration whose
# file exists is skipped, and a killed run resumes from its last epoch
# checkpoint. `--train-limit N` keeps the last N training tokens of SOTU
# (1790-1993 train; validation 1994-2007), the text next to the validation years.
# Usage: experiments/text/probe.sh [NAME ...]   (default: every configuration)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=experiments/text/probe

declare -A probe=(
  [sotu300k-tlm-2-128-none]='--model tlm-2-128 --train-limit 300000 --vocab-size 5000 --epochs 6'
  [sotu100k-tlm-2-128-none]='--model tlm-2-128 --train-limit 100000 --vocab-size 5000 --epochs 12'
  # A child cheap enough for 40-trial searches on 2 cores (about 3 s an epoch):
  # does it overfit, and does plain dropout buy perplexity there?
  [sotu50k-tlm-2-64-v2000-none]='--model tlm-2-64 --train-limit 50000 --vocab-size 2000 --epochs 30'
  [sotu50k-tlm-2-64-v2000-dropout0.2]='--model tlm-2-64 --train-limit 50000 --vocab-size 2000 --epochs 30 --dropout dropout:0.2'
)
names=("$@")
[ ${#names[@]} -eq 0 ] && mapfile -t names < <(printf '%s\n' "${!probe[@]}" | sort)
for name in "${names[@]}"; do
  [ -n "${probe[$name]:-}" ] || { echo "probe.sh: unknown configuration $name" >&2; exit 2; }
  [ -f "$out/$name.json" ] && continue
  # shellcheck disable=SC2086  # the configuration's flags are meant to split
  ./autodropout train --task sotu ${probe[$name]} --threads 1 --json \
    --checkpoint "runs/text-probe/$name" --resume > "$out/$name.json.part"
  mv "$out/$name.json.part" "$out/$name.json"
done
# The learning curves, one line per run.
node -e '
const fs = require("fs");
for (const f of fs.readdirSync(process.argv[1]).filter((f) => f.endsWith(".json")).sort()) {
  const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${f}`, "utf8"));
  const ppl = r.history.map((e) => e.val.perplexity.toFixed(1)).join(" ");
  const loss = r.history.map((e) => e.trainLoss.toFixed(2)).join(" ");
  console.log(`${f.replace(/\.json$/, "")}: validation perplexity by epoch ${ppl}; train loss ${loss}; test ${r.test.perplexity.toFixed(1)}`);
}' "$out" | tee "$out/curves.txt"
