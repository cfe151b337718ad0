#!/usr/bin/env bash
# StyleGAN's figures from two trained runs of configs/stylegan.py, one per style block, into docs/figures:
#
#   launch/stylegan_figures.sh [MODULATED_WORKDIR] [ADAIN_WORKDIR] [extra gans.main flags ...]
#       (defaults: runs/stylegan, runs/stylegan_adain; the second trained with
#        --config.model.style_block=adain)
#
# stylegan_style_mixing.png, stylegan_stochastic_variation.png, stylegan_truncation.png: the
# ``traversals`` of the modulated run (--mode=sample --config.sample.kind=traverse, see
# gans.methods.stylegan.StyleGAN.traversals); stylegan_adain_vs_modulated.png: the sample grids of both
# runs for the same seed (fresh noise), AdaIN on the left, modulated on the right, a gap between them.
set -euo pipefail
cd "$(dirname "$0")/.."
modulated=${1:-runs/stylegan}
adain=${2:-runs/stylegan_adain}
shift $(($# < 2 ? $# : 2))
python -m gans.main --config=configs/stylegan.py --workdir="$modulated" --mode=sample \
  --config.sample.kind=traverse "$@"
for name in style_mixing stochastic_variation truncation; do
  cp "$(ls -t "$modulated"/samples/"${name}"_step*_seed0.png | head -1)" "docs/figures/stylegan_${name}.png"
done
python -m gans.main --config=configs/stylegan.py --workdir="$modulated" --mode=sample "$@"
python -m gans.main --config=configs/stylegan.py --workdir="$adain" --mode=sample \
  --config.model.style_block=adain "$@"
python - "$adain" "$modulated" <<'PY'
import glob, os, sys

import numpy as np
from PIL import Image

grids = []
for workdir in sys.argv[1:]:
  path = max(glob.glob(os.path.join(workdir, 'samples', 'samples_step*_seed0.png')), key=os.path.getmtime)
  grids.append(np.asarray(Image.open(path).convert('L')))
gap = np.full((grids[0].shape[0], 8), 255, np.uint8)
Image.fromarray(np.concatenate([grids[0], gap, grids[1]], axis=1)).save(
  'docs/figures/stylegan_adain_vs_modulated.png'
)
print('docs/figures/stylegan_adain_vs_modulated.png: AdaIN (left) vs modulated (right)')
PY
