"""pytorch-fid's Inception weights (.pth) -> the .npz that `--config.eval.feature_weights` reads.

    TORCH_PYTHON launch/reference/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth inception.npz

Runs where torch is installed (it is not a gans dependency): every entry of the state dict, as float32
numpy arrays under their PyTorch names. `gans.evaluation.inception.variables_from_state_dict` renames and
transposes them into FIDInceptionV3's variables and checks that each one fits. The .pth is the file
pytorch-fid downloads on first use (FID_WEIGHTS_URL in pytorch_fid/inception.py); download it where there
is internet and copy it here.
"""

import sys

import numpy as np
import torch


def state_dict_arrays(state_dict) -> dict[str, np.ndarray]:
  """{name: float32 array} of a PyTorch state dict (integer counters such as num_batches_tracked dropped)."""
  return {
    name: tensor.detach().cpu().numpy().astype(np.float32)
    for name, tensor in state_dict.items()
    if tensor.is_floating_point()
  }


def main(source: str, target: str) -> None:
  arrays = state_dict_arrays(torch.load(source, map_location='cpu', weights_only=True))
  np.savez(target, **arrays)
  print(f'{len(arrays)} arrays, {sum(a.size for a in arrays.values()):,} values -> {target}')


if __name__ == '__main__':
  if len(sys.argv) != 3:
    sys.exit(__doc__)
  main(*sys.argv[1:])
