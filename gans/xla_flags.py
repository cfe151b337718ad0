"""XLA options the project sets by default, before JAX starts its backends.

On CPU, XLA 0.10 hands f32 convolutions to YNNPACK, which on this project's AVX-512 machine runs them
at 55-65 % of the speed of XLA's other convolution path (the 28x28 DCGAN step: 263 ms against 197 ms,
docs/performance.md). ``--xla_cpu_experimental_ynn_fusion_type=-individual_convolution`` takes
convolutions out of YNNPACK and keeps it for matrix products. The option is experimental and unknown to
other jaxlib versions (XLA aborts on unknown flags), so it is only added for the versions it was measured
on; a flag of the same name already in ``$XLA_FLAGS`` wins, and ``GANS_XLA_DEFAULTS=0`` turns the
defaults off.
"""

from __future__ import annotations

import os

import jaxlib

# (flag, value, jaxlib versions 'major.minor' it is known to and was measured on).
DEFAULT_FLAGS = (('xla_cpu_experimental_ynn_fusion_type', '-individual_convolution', ('0.10',)),)


def set_defaults() -> list[str]:
  """Adds ``DEFAULT_FLAGS`` to ``$XLA_FLAGS`` where they apply; returns the flags added.

  Must run before the first JAX computation (XLA reads ``$XLA_FLAGS`` once, when a backend starts);
  processes started later inherit the environment.
  """
  if os.environ.get('GANS_XLA_DEFAULTS', '1') == '0':
    return []
  version = '.'.join(jaxlib.__version__.split('.')[:2])
  current = os.environ.get('XLA_FLAGS', '')
  added = [
    f'--{name}={value}'
    for name, value, versions in DEFAULT_FLAGS
    if version in versions and f'--{name}=' not in current
  ]
  if added:
    os.environ['XLA_FLAGS'] = ' '.join([current, *added]).strip()
  return added
