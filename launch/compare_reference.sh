#!/usr/bin/env bash
# The train step of a recipe against its PyTorch reference step, as a speed ratio measured in one sitting.
#
#   TORCH_PYTHON=/tmp/torchref/bin/python launch/compare_reference.sh dcgan|gan|gan_grid|biggan|lapgan|cyclegan|stylegan|gancls [ROUNDS] [BENCH_DIR]
#
# Alternates `python -m gans.benchmark` (the real input pipeline feeding the step) with the reference (a
# fixed batch, no input pipeline), ROUNDS times each at the recipe's batch below, and prints the medians and
# their ratio. The references:
#   dcgan   BENCH_DIR/dcgan_torch_reference.py      batch 128  (BENCH_DIR: default ../shared/bench, outside
#   gan     BENCH_DIR/mlpgan_torch_reference.py     batch 128   the repo)
#   gan_grid  launch/reference/pacgan_grid_torch_reference.py  batch 100 (configs/gan_grid.py's own, m = 1;
#             `python launch/reference/pacgan_grid_torch_reference.py 200 300 2` for PacGAN2; in the repo)
#   biggan  launch/reference/biggan_torch_reference.py  batch 64 (configs/biggan.py's own; in the repo,
#                                                               BENCH_DIR not read)
#   lapgan  launch/reference/lapgan_torch_reference.py  batch 128 (in the repo, BENCH_DIR not read)
#   cyclegan  launch/reference/cyclegan_torch_reference.py  batch 4 (configs/cyclegan.py's own; in the repo)
#   stylegan  launch/reference/stylegan_torch_reference.py  batch 32 (configs/stylegan.py's own; 32 steps, so
#             R1 (every 16) and path length (every 4) run as often as in training; in the repo)
#   gancls  launch/reference/gancls_torch_reference.py  batch 64 (configs/gancls.py's own; the game step:
#           gans.benchmark runs with method.pretrain_steps=0; in the repo)
# torch is not a dependency of gans: install a CPU build in its own venv, e.g.
#   python -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:?usage: launch/compare_reference.sh dcgan|gan|gan_grid|biggan|lapgan|cyclegan|stylegan|gancls [ROUNDS] [BENCH_DIR]}
rounds=${2:-3}
bench_dir=${3:-../shared/bench}
torch_python=${TORCH_PYTHON:-python}
extra=()  # More gans.benchmark flags of a recipe.
case "$recipe" in
  dcgan) reference=$bench_dir/dcgan_torch_reference.py batch=128 steps=20 warmup=3 ;;
  gan) reference=$bench_dir/mlpgan_torch_reference.py batch=128 steps=300 warmup=20 ;;
  gan_grid) reference=launch/reference/pacgan_grid_torch_reference.py batch=100 steps=300 warmup=20 ;;
  biggan) reference=launch/reference/biggan_torch_reference.py batch=64 steps=10 warmup=2 ;;
  lapgan) reference=launch/reference/lapgan_torch_reference.py batch=128 steps=20 warmup=2 ;;
  cyclegan) reference=launch/reference/cyclegan_torch_reference.py batch=4 steps=30 warmup=3 ;;
  stylegan) reference=launch/reference/stylegan_torch_reference.py batch=32 steps=32 warmup=2 ;;
  gancls) reference=launch/reference/gancls_torch_reference.py batch=64 steps=20 warmup=2
    extra=(--config.method.pretrain_steps=0) ;;
  *) echo "no reference step for recipe '$recipe' (dcgan, gan, gan_grid, biggan, lapgan, cyclegan, stylegan or gancls)" >&2; exit 2 ;;
esac
[ -f "$reference" ] || { echo "missing $reference (dcgan, gan: pass BENCH_DIR)" >&2; exit 2; }
out=$(mktemp -d)
ours=() synthetic=() theirs=()
for round in $(seq "$rounds"); do
  python -m gans.benchmark --config="configs/$recipe.py" --steps="$steps" --warmup="$warmup" \
    --config.train.batch_size="$batch" "${extra[@]}" --output="$out/$round.json" >/dev/null 2>&1
  read -r fed fixed < <(python -c "import json, sys; r = json.load(open(sys.argv[1])); \
print(f\"{r['steps_per_s']:.3f} {r['synthetic_steps_per_s']:.3f}\")" "$out/$round.json")
  ours+=("$fed") synthetic+=("$fixed")
  theirs+=("$("$torch_python" "$reference" "$batch" "$steps" | sed -n 's/.*steps\/s=\([0-9.]*\).*/\1/p')")
  echo "round $round: gans $fed steps/s (input pipeline), $fixed (fixed batch); torch ${theirs[-1]}"
done
python - "${ours[*]}" "${synthetic[*]}" "${theirs[*]}" "$recipe" "$batch" <<'PY'
import statistics, sys
ours, synthetic, theirs = (statistics.median(map(float, arg.split())) for arg in sys.argv[1:4])
print(
  f'{sys.argv[4]} (batch {sys.argv[5]}), medians: gans {ours:.2f} steps/s fed by the input pipeline, '
  f'{synthetic:.2f} on a fixed batch; torch {theirs:.2f} on a fixed batch. Ratio {ours / theirs:.2f}x '
  f'(pipeline-fed), {synthetic / theirs:.2f}x (both on a fixed batch).'
)
PY
