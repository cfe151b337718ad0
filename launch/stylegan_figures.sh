#!/usr/bin/env bash
# StyleGAN's figures from two trained runs of configs/stylegan.py, one per style block, into docs/figures:
#
#   launch/stylegan_figures.sh [MODULATED_WORKDIR] [ADAIN_WORKDIR] [extra gans.main flags ...]
#       (defaults: runs/stylegan, runs/stylegan_adain; the second trained with
#        --config.model.style_block=adain)
#
# stylegan_style_mixing.png, stylegan_stochastic_variation.png, stylegan_truncation.png: the
# ``traversals`` of the modulated run (--mode=sample --config.sample.kind=traverse, see
# gans.methods.stylegan.StyleGAN.traversals); stylegan_adain_vs_modulated.png: the sample grids the
# trainer wrote at the last step both runs reached (samples/samples_<step>.png: the same latents, equal
# budget), AdaIN on the left, modulated on the right, a gap between them.
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
python - "$adain" "$modulated" <<'PY'
import glob, os, re, sys

import numpy as np
from PIL import Image

steps = [
  {int(re.search(r'(\d+)\.png$', path).group(1)): path
   for path in glob.glob(os.path.join(workdir, 'samples', 'samples_[0-9]*.png'))}
  for workdir in sys.argv[1:]
]
common = set(steps[0]) & set(steps[1])
if not common:
  sys.exit(f'no step with a sample grid in both {sys.argv[1]} and {sys.argv[2]}')
step = max(common)
grids = [np.asarray(Image.open(run[step]).convert('L')) for run in steps]
gap = np.full((grids[0].shape[0], 8), 255, np.uint8)
Image.fromarray(np.concatenate([grids[0], gap, grids[1]], axis=1)).save(
  'docs/figures/stylegan_adain_vs_modulated.png'
)
print(f'docs/figures/stylegan_adain_vs_modulated.png: AdaIN (left) vs modulated (right), step {step}')
PY
