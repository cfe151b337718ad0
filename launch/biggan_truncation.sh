#!/usr/bin/env bash
# BigGAN's variety-fidelity trade-off: the trained model scored at truncations τ (BigGAN, Section 3.1).
#
#   launch/biggan_truncation.sh [WORKDIR] [OUT_PREFIX] [extra gans.main flags ...]
#       (defaults: runs/biggan, docs/biggan_truncation)
#
# Runs `--mode=eval` (FID, precision, recall, class accuracy, ... on eval.num_samples samples) of the
# latest checkpoint in WORKDIR at τ = 0.25, 0.5, 1.0, 1.5, 2.0 and without truncation, keeps each
# metrics.json as WORKDIR/eval/truncation_<τ>.json, and writes OUT_PREFIX.md (the table) and
# OUT_PREFIX.png (one panel per metric against τ, "none" the last point).
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=${1:-runs/biggan}
out=${2:-docs/biggan_truncation}
shift $(($# < 2 ? $# : 2))
thresholds=(0.25 0.5 1.0 1.5 2.0 none)
for tau in "${thresholds[@]}"; do
  if [ "$tau" = none ]; then flag=(); else flag=(--config.sample.truncation="$tau"); fi
  python -m gans.main --config=configs/biggan.py --workdir="$workdir" --mode=eval "${flag[@]}" "$@"
  cp "$workdir/eval/metrics.json" "$workdir/eval/truncation_${tau}.json"
done
python - "$workdir" "$out" "${thresholds[@]}" <<'PY'
import json, os, sys

from gans import plots, visualize

workdir, out, *thresholds = sys.argv[1:]
names = ('fid', 'precision', 'recall', 'density', 'coverage', 'class_accuracy')
rows = {t: json.load(open(os.path.join(workdir, 'eval', f'truncation_{t}.json'))) for t in thresholds}
step = rows[thresholds[-1]]['step']
lines = [
  '# BigGAN truncation curve',
  '',
  f'BigGAN `{workdir}` at step {step}, `launch/biggan_truncation.sh`: '
  f'each row is `--mode=eval --config.sample.truncation=τ`.',
  '',
  '| τ | ' + ' | '.join(names) + ' |',
  '|---|' + '---|' * len(names),
]
lines += [f'| {t} | ' + ' | '.join(f'{rows[t][n]:.4g}' for n in names) + ' |' for t in thresholds]
lines += ['', f'![metrics against τ]({os.path.basename(out)}.png)']
with open(out + '.md', 'w') as f:
  f.write('\n'.join(lines) + '\n')
picture = plots.tradeoff_curves(
  thresholds, {n: [rows[t][n] for t in thresholds] for n in names}, xlabel='truncation τ'
)
visualize.save_png(out + '.png', picture)
print('\n'.join(lines))
PY
