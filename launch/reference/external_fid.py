"""Steps of external_fid.sh: gans' FID of ``--mode=export`` samples beside pytorch-fid's on the same files.

    TORCH_PYTHON=/tmp/fidref/bin/python launch/reference/external_fid.sh WORKDIR NUM WEIGHTS|random \
        --config=configs/dcgan.py [--config.x=y ...]

Step ``weights PTH SEED`` (run with torch, torchvision and pytorch-fid): a random state dict of
pytorch-fid's network (``inception_parity.random_fid_network``: torch seed SEED, BatchNorm statistics
measured on random images so that the features depend on the input), saved with ``torch.save`` as PTH;
external_fid.sh puts it where pytorch-fid's loader finds its download (``$TORCH_HOME/hub/checkpoints/
pt_inception-2015-12-05-6726825d.pth``), so pytorch-fid runs offline with exactly these weights.

Step ``gans OUT SAMPLES.npz SAMPLES_PNG NUM -- GANS_FLAGS`` (run with gans): the reference set of
gans' evaluation (``ImageEvaluator``: the first NUM images of the test split, uint8) written as the PNG
folder OUT/real/ for pytorch-fid; both PNG folders read back as pytorch-fid reads them (PIL
``convert('RGB')``, grey repeated to 3 channels) and compared with the arrays; gans' Inception features
(``eval.feature_extractor=inception`` with OUT/weights.npz, float32, batches of 100) of the exported
uint8 samples and of the real images, saved as Gaussian statistics in pytorch-fid's ``.npz`` format
(``mu``, ``sigma``: OUT/gans_fake.npz, OUT/gans_real.npz).

Step ``report OUT PYTORCH_FID PYTORCH_FID_ON_GANS_STATS`` (run with gans): gans' FID (its
``frechet_distance`` on its statistics: what ``--mode=eval`` computes), pytorch-fid's (its CLI on the PNG
folders, via OUT/pytorch_fid_{fake,real}.npz), their difference, and where it comes from: the two
feature statistics against each other, each FID formula on the other's statistics.
"""

import os
import sys

import numpy as np


def torch_weights(path: str, seed: int) -> None:
  import torch

  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from inception_parity import random_fid_network

  torch.manual_seed(seed)
  _, network = random_fid_network(np.random.default_rng(seed))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  torch.save(network.state_dict(), path)
  print(f'random pytorch-fid Inception weights (torch seed {seed}) -> {path}')


def _read_png_folder(directory: str) -> np.ndarray:
  """The folder's PNGs in name order, decoded as pytorch-fid decodes them: uint8 [N, H, W, 3]."""
  from PIL import Image

  names = sorted(name for name in os.listdir(directory) if name.endswith('.png'))
  return np.stack(
    [np.asarray(Image.open(os.path.join(directory, n)).convert('RGB')) for n in names]
  )


def _check_png_folder(directory: str, images: np.ndarray) -> None:
  """Exits unless the folder decodes (grey repeated to RGB) to exactly ``images`` [N, H, W, C]."""
  decoded = _read_png_folder(directory)
  expected = np.broadcast_to(images, images.shape[:3] + (3,))
  if decoded.shape != expected.shape or not np.array_equal(decoded, expected):
    sys.exit(
      f'FAIL: {directory} does not decode to the arrays ({decoded.shape} vs {expected.shape}).'
    )
  print(f'{directory}: {len(decoded)} PNGs decode (RGB) to exactly the uint8 arrays')


def _save_statistics(path: str, features: np.ndarray) -> None:
  from gans.evaluation import metrics

  stats = metrics.GaussianStatistics.from_features(features)
  np.savez(path, mu=stats.mean, sigma=stats.covariance)


def gans_step(
  out: str, samples_npz: str, samples_png: str, num: int, gans_flags: list[str]
) -> None:
  import time

  from gans import export
  from gans import main as gans_main
  from gans.data import datasets
  from gans.evaluation import classifier

  gans_main.parse_flags([sys.argv[0], *gans_flags])
  config = gans_main.FLAGS.config
  test = datasets.load_split(config.data, 'test')  # The reference set of gans' ImageEvaluator.
  real = test['image'][: min(num, len(test))]
  samples, _ = export.load(samples_npz)
  export.write_png_folder(os.path.join(out, 'real'), real)
  _check_png_folder(samples_png, samples)
  _check_png_folder(os.path.join(out, 'real'), real)
  extractor = classifier.get_feature_extractor(
    'inception', weights_path=os.path.join(out, 'weights.npz')
  )
  for name, images in (('fake', samples), ('real', real)):
    start = time.perf_counter()
    features = extractor.features(images)
    _save_statistics(os.path.join(out, f'gans_{name}.npz'), features)
    seconds = time.perf_counter() - start
    print(f'gans features of {len(images)} {name} images {images.shape[1:]}: {seconds:.0f} s')


def report(out: str, pytorch_fid: float, pytorch_fid_on_gans_stats: float) -> None:
  from gans.evaluation import metrics

  def load(name):
    with np.load(os.path.join(out, f'{name}.npz')) as f:
      return f['mu'], f['sigma']

  gans_fake, gans_real = load('gans_fake'), load('gans_real')
  torch_fake, torch_real = load('pytorch_fid_fake'), load('pytorch_fid_real')
  gans_fid = metrics.frechet_distance(*gans_real, *gans_fake)
  gans_formula_on_torch = metrics.frechet_distance(*torch_real, *torch_fake)
  for name, ours, theirs in (('fake', gans_fake, torch_fake), ('real', gans_real, torch_real)):
    for kind, a, b in zip(('mu', 'sigma'), ours, theirs):
      print(
        f'{name} {kind}: max |gans - pytorch-fid| {np.abs(a - b).max():.2e}, relative to max '
        f'|pytorch-fid| {np.abs(a - b).max() / np.abs(b).max():.2e}'
      )
  print(f'gans formula on pytorch-fid statistics {gans_formula_on_torch:.6f}')
  print(f'pytorch-fid formula on gans statistics {pytorch_fid_on_gans_stats:.6f}')
  difference = gans_fid - pytorch_fid
  print(f'gans FID        {gans_fid:.6f}')
  print(f'pytorch-fid FID {pytorch_fid:.6f}')
  print(f'difference      {difference:+.2e} (relative {difference / pytorch_fid:+.2e})')


if __name__ == '__main__':
  step, *args = sys.argv[1:]
  if step == 'weights':
    torch_weights(args[0], int(args[1]))
  elif step == 'gans':
    separator = args.index('--')
    out, samples_npz, samples_png, num = args[:separator]
    gans_step(out, samples_npz, samples_png, int(num), args[separator + 1 :])
  elif step == 'report':
    report(args[0], float(args[1]), float(args[2]))
  else:
    sys.exit(__doc__)
