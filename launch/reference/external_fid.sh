#!/usr/bin/env bash
# gans' FID of `--mode=export` samples beside pytorch-fid's CLI on the same files (see external_fid.py).
#
#   TORCH_PYTHON=/tmp/fidref/bin/python launch/reference/external_fid.sh WORKDIR NUM WEIGHTS|random \
#     --config=configs/dcgan.py [--config.x=y ...]
#
# WORKDIR: a trained run (the export is written into WORKDIR/export/); NUM: samples exported and real
# test images (gans' reference set); WEIGHTS: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (FID
# comparable with papers) or `random` (random weights from torch seed $SEED, default 0: an agreement check
# of the two implementations, not a quality number); then the gans flags of the run's recipe.
# TORCH_PYTHON: a Python with torch, torchvision and pytorch-fid (not gans dependencies), e.g.
#   python -m venv /tmp/fidref && /tmp/fidref/bin/pip install torch torchvision pytorch-fid
# OUT (default: a new temporary folder) receives the weights, the real PNGs and the statistics;
# BATCH (default 50) is pytorch-fid's --batch-size.
set -euo pipefail
cd "$(dirname "$0")/../.."
torch_python=${TORCH_PYTHON:?set TORCH_PYTHON to a python with torch and pytorch-fid}
workdir=${1:?WORKDIR}
num=${2:?NUM}
weights=${3:?WEIGHTS.pth or random}
shift 3
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}

# pytorch-fid loads its weights with torch.hub's load_state_dict_from_url(FID_WEIGHTS_URL), which
# reads $TORCH_HOME/hub/checkpoints/<the URL's file name> when it exists instead of downloading.
checkpoint=$out/torch_home/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth
mkdir -p "$(dirname "$checkpoint")"
torch_path=
if ! "$torch_python" -c 'import torchvision' 2>/dev/null; then
  # The PyPI torchvision wheel needs a CUDA build of torch for its C ops (not used by Inception).
  mkdir -p "$out/torchvision_stub"
  echo "import sys, types; sys.modules.setdefault('torchvision._meta_registrations', types.ModuleType('stub'))" \
    >"$out/torchvision_stub/sitecustomize.py"
  torch_path=$out/torchvision_stub
fi
torch_run() { TORCH_HOME=$out/torch_home PYTHONPATH=$torch_path "$torch_python" "$@"; }
if [[ $weights == random ]]; then
  torch_run launch/reference/external_fid.py weights "$checkpoint" "${SEED:-0}"
else
  ln -sf "$(cd "$(dirname "$weights")" && pwd)/$(basename "$weights")" "$checkpoint"
fi
torch_run launch/reference/convert_inception_weights.py "$checkpoint" "$out/weights.npz"

start=$SECONDS
python -m gans.main "$@" --mode=export --workdir="$workdir" --config.export.num="$num" \
  --config.export.png=True
record=$(ls -t "$workdir"/export/samples_step*_seed*.json | head -1)
samples=${record%.json}
echo "export of $num samples: $((SECONDS - start)) s -> $samples.npz, $samples/"

start=$SECONDS
python launch/reference/external_fid.py gans "$out" "$samples.npz" "$samples" "$num" -- "$@"
echo "gans step: $((SECONDS - start)) s"

start=$SECONDS
pytorch_fid() { torch_run -m pytorch_fid --device cpu --batch-size "${BATCH:-50}" "$@"; }
rm -f "$out"/pytorch_fid_{fake,real}.npz
pytorch_fid --save-stats "$samples" "$out/pytorch_fid_fake.npz"
pytorch_fid --save-stats "$out/real" "$out/pytorch_fid_real.npz"
# The same number as `python -m pytorch_fid "$samples" "$out/real"`, which computes both statistics.
fid=$(pytorch_fid "$out/pytorch_fid_fake.npz" "$out/pytorch_fid_real.npz" | sed -n 's/^FID: *//p')
fid_on_gans=$(pytorch_fid "$out/gans_fake.npz" "$out/gans_real.npz" | sed -n 's/^FID: *//p')
echo "pytorch-fid: $((SECONDS - start)) s"

python launch/reference/external_fid.py report "$out" "$fid" "$fid_on_gans"
echo "files in $out"
