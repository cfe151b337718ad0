"""Structure check of gans' FIDInceptionV3 against pytorch-fid's own modules, with random weights.

    TORCH_PYTHON=/tmp/fidref/bin/python launch/reference/inception_parity.sh [NUM_IMAGES]

Step `torch DIR` (run with torch and pytorch-fid installed): builds pytorch-fid's network with
`pytorch_fid.inception.InceptionV3([3])` itself (its `fid_inception_v3()`: torchvision's Inception-v3
with the FIDInceptionA/C/E_1/E_2 blocks), except that the pretrained weights, which cannot be
downloaded here, are replaced by random ones (every BatchNorm's statistics and affine terms included, so a misplaced
block or a transposed kernel shows; the statistics are measured on random images so that the features
depend on the input). Writes DIR/weights.npz through convert_inception_weights.py's
function, random images of two sizes (28x28 grey, as the recipes draw them, and 64x64 RGB) and
pytorch-fid's pool3 features, plus fc's 1008 logits on them.

Step `gans DIR` (run with gans installed): loads the weights as gans does (`inception.load_variables`),
runs `FIDInceptionV3` on the same images in float32 and in float64, and prints the largest absolute and
relative differences from pytorch-fid's (in the same precision). With these random weights rounding grows
through the 94 layers (float32 pytorch-fid differs from its own float64 result by up to ~5e-4 of the
features' scale), so the structure is checked in float64: exits 1 if a feature or logit differs there by
more than TOLERANCE (1e-4 of the largest value).
"""

import os
import sys

import numpy as np

TOLERANCE = 1e-4


def random_fid_network(rng: np.random.Generator):
  """pytorch-fid's ``InceptionV3([3])`` (eval mode) and the full torchvision network whose blocks it
  holds (fc included), with random weights from torch's current seed: every BatchNorm's affine terms
  random and its running statistics measured on 16 random 64x64 images drawn from ``rng`` (with
  arbitrary statistics the features of random weights are constant, which would hide a wrong resize or
  pool). Needs torch, torchvision and pytorch-fid."""
  import types

  # The PyPI torchvision wheel links against CUDA builds of torch; its C ops (nms, ...) are not part
  # of Inception, and without this stub importing torchvision fails on a CPU-only torch.
  sys.modules.setdefault('torchvision._meta_registrations', types.ModuleType('stub'))
  from pytorch_fid import inception as pfi
  import torch

  # InceptionV3([3]) builds its network with pytorch-fid's fid_inception_v3() (torchvision's
  # Inception-v3 with the FIDInceptionA/C/E_1/E_2 blocks), which then downloads the weights and loads
  # them: the download returns a marker instead, and loading the marker keeps the random initialisation.
  keep_random, built = object(), []
  load_state_dict = torch.nn.Module.load_state_dict
  download = pfi.load_state_dict_from_url

  def load_or_keep(module, state_dict, *args, **kwargs):
    if state_dict is keep_random:
      built.append(module)
      return None
    return load_state_dict(module, state_dict, *args, **kwargs)

  pfi.load_state_dict_from_url = lambda *args, **kwargs: keep_random
  torch.nn.Module.load_state_dict = load_or_keep
  try:
    model = pfi.InceptionV3([3], resize_input=True, normalize_input=True).eval()
  finally:
    torch.nn.Module.load_state_dict = load_state_dict
    pfi.load_state_dict_from_url = download
  (network,) = built  # The full torchvision network, fc included, whose blocks `model` holds.
  # Random affine terms, and running statistics measured on random images (a forward pass in training
  # mode with cumulative averages): with them every layer's output is normalised, so the features depend
  # on the input (with arbitrary statistics they are constant), and a wrong resize, padding or pool shows.
  calibration = torch.from_numpy(rng.uniform(0, 1, (16, 3, 64, 64)).astype(np.float32))
  with torch.no_grad():
    for module in network.modules():
      if isinstance(module, torch.nn.BatchNorm2d):
        module.weight.uniform_(0.5, 1.5)
        module.bias.normal_(0.0, 0.2)
        module.reset_running_stats()
        module.momentum = None
    model.train()(calibration)
  return model.eval(), network


def torch_reference(directory: str, num_images: int) -> None:
  import torch

  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from convert_inception_weights import state_dict_arrays

  torch.manual_seed(0)
  rng = np.random.default_rng(0)
  model, network = random_fid_network(rng)
  arrays = state_dict_arrays(network.state_dict())
  np.savez(os.path.join(directory, 'weights.npz'), **arrays)
  images = {
    'grey28': rng.uniform(0, 1, (num_images, 28, 28, 1)).astype(np.float32),
    'rgb64': rng.uniform(0, 1, (num_images, 64, 64, 3)).astype(np.float32),
  }
  outputs = {}
  with torch.no_grad():
    for name, batch in images.items():
      nchw = torch.from_numpy(batch).permute(0, 3, 1, 2)
      if nchw.shape[1] == 1:
        nchw = nchw.repeat(1, 3, 1, 1)
      features = model(nchw)[0].flatten(1)
      outputs[f'{name}_features'] = features.numpy()
      outputs[f'{name}_logits'] = network.fc(features).numpy()
      # The same in float64: how far float32 itself is from the exact result.
      network.double()
      exact = model(nchw.double())[0].flatten(1)
      outputs[f'{name}_features_float64'] = exact.numpy()
      outputs[f'{name}_logits_float64'] = network.fc(exact).numpy()
      network.float()
  np.savez(os.path.join(directory, 'images.npz'), **images)
  np.savez(os.path.join(directory, 'torch_outputs.npz'), **outputs)
  print(
    f'torch {torch.__version__}: {len(arrays)} weight arrays; features of {num_images} images per size'
  )


def gans_check(directory: str) -> int:
  import jax

  jax.config.update('jax_enable_x64', True)
  from gans.evaluation import inception

  variables = inception.load_variables(os.path.join(directory, 'weights.npz'))
  images = np.load(os.path.join(directory, 'images.npz'))
  reference = np.load(os.path.join(directory, 'torch_outputs.npz'))
  worst = 0.0
  for dtype in (np.float32, np.float64):
    # float64: the structure check (rounding aside, both compute the same function); float32: as used.
    extractor = inception.InceptionFeatureExtractor(
      jax.tree.map(lambda v: v.astype(dtype), variables), batch_size=8
    )
    suffix = '' if dtype == np.float32 else '_float64'
    for name in images.files:
      outputs = extractor.features_and_logits(images[name].astype(dtype))
      for kind, ours in zip(('features', 'logits'), outputs):
        theirs = reference[f'{name}_{kind}{suffix}']
        relative = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
        print(
          f'{np.dtype(dtype).name} {name} {kind} {ours.shape}: max |gans - pytorch-fid| '
          f'{np.abs(ours - theirs).max():.2e}, relative to max |pytorch-fid| {relative:.2e}'
        )
        if dtype == np.float64:
          worst = max(worst, relative)
  for name in images.files:
    for kind in ('features', 'logits'):
      single, double = reference[f'{name}_{kind}'], reference[f'{name}_{kind}_float64']
      relative = float(np.abs(single - double).max() / np.abs(double).max())
      print(f'pytorch-fid float32 against float64, {name} {kind}: relative {relative:.2e}')
  passed = worst <= TOLERANCE
  print(
    f'{"PASS" if passed else "FAIL"}: largest relative difference in float64 {worst:.2e} '
    f'(tolerance {TOLERANCE})'
  )
  return 0 if passed else 1


if __name__ == '__main__':
  step, directory = sys.argv[1:3]
  if step == 'torch':
    torch_reference(directory, int(sys.argv[3]) if len(sys.argv) > 3 else 8)
  else:
    sys.exit(gans_check(directory))
