#!/usr/bin/env bash
# The train step of a recipe against its PyTorch reference step, as a speed ratio measured in one sitting.
#
#   TORCH_PYTHON=/tmp/torchref/bin/python launch/compare_reference.sh dcgan|gan [ROUNDS] [BENCH_DIR]
#
# Alternates `python -m gans.benchmark` (the real input pipeline feeding the step) with the reference
# (`dcgan_torch_reference.py` or `mlpgan_torch_reference.py` in BENCH_DIR, default ../shared/bench: a
# fixed batch, no input pipeline), ROUNDS times each at batch 128, and prints the medians and their ratio.
# torch is not a dependency of gans: install a CPU build in its own venv, e.g.
#   python -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:?usage: launch/compare_reference.sh dcgan|gan [ROUNDS] [BENCH_DIR]}
rounds=${2:-3}
bench_dir=${3:-../shared/bench}
torch_python=${TORCH_PYTHON:-python}
case "$recipe" in
  dcgan) reference=dcgan_torch_reference.py steps=20 warmup=3 ;;
  gan) reference=mlpgan_torch_reference.py steps=300 warmup=20 ;;
  *) echo "no reference step for recipe '$recipe' (dcgan or gan)" >&2; exit 2 ;;
esac
[ -f "$bench_dir/$reference" ] || { echo "missing $bench_dir/$reference; pass BENCH_DIR" >&2; exit 2; }
out=$(mktemp -d)
ours=() synthetic=() theirs=()
for round in $(seq "$rounds"); do
  python -m gans.benchmark --config="configs/$recipe.py" --steps="$steps" --warmup="$warmup" \
    --config.train.batch_size=128 --output="$out/$round.json" >/dev/null 2>&1
  read -r fed fixed < <(python -c "import json, sys; r = json.load(open(sys.argv[1])); \
print(f\"{r['steps_per_s']:.3f} {r['synthetic_steps_per_s']:.3f}\")" "$out/$round.json")
  ours+=("$fed") synthetic+=("$fixed")
  theirs+=("$("$torch_python" "$bench_dir/$reference" 128 "$steps" | sed -n 's/.*steps\/s=\([0-9.]*\).*/\1/p')")
  echo "round $round: gans $fed steps/s (input pipeline), $fixed (fixed batch); torch ${theirs[-1]}"
done
python - "${ours[*]}" "${synthetic[*]}" "${theirs[*]}" "$recipe" <<'PY'
import statistics, sys
ours, synthetic, theirs = (statistics.median(map(float, arg.split())) for arg in sys.argv[1:4])
print(
  f'{sys.argv[4]}, medians: gans {ours:.2f} steps/s fed by the input pipeline, {synthetic:.2f} on a '
  f'fixed batch; torch {theirs:.2f} on a fixed batch. Ratio {ours / theirs:.2f}x (pipeline-fed), '
  f'{synthetic / theirs:.2f}x (both on a fixed batch).'
)
PY
