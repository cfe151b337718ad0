"""Reader and writer of the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by raw data:

    magic  = 0x00 0x00 <dtype code> <rank>        (4 bytes)
    dims   = rank × uint32, big-endian            (4·rank bytes)
    data   = prod(dims) values of the dtype, C order

Files may be gzip-compressed (``.gz``); the reader checks the magic, the dtype code, the rank and that the
payload has exactly ``prod(dims)`` values, and raises ``IdxFormatError`` naming the file otherwise.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

# IDX dtype codes -> numpy dtypes (multi-byte types are big-endian).
_DTYPES = {
  0x08: np.dtype(np.uint8),
  0x09: np.dtype(np.int8),
  0x0B: np.dtype('>i2'),
  0x0C: np.dtype('>i4'),
  0x0D: np.dtype('>f4'),
  0x0E: np.dtype('>f8'),
}
_CODES = {dtype.newbyteorder('='): code for code, dtype in _DTYPES.items()}


class IdxFormatError(ValueError):
  """An IDX file is truncated, has a wrong magic number or an unsupported dtype."""


def _open(path: str, mode: str):
  return gzip.open(path, mode) if str(path).endswith('.gz') else open(path, mode)


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads one IDX file (optionally gzipped) into an array of shape ``dims``."""
  path = os.fspath(path)
  try:
    with _open(path, 'rb') as f:
      raw = f.read()
  except (OSError, EOFError) as e:  # gzip raises these on a truncated or non-gzip file
    raise IdxFormatError(f'{path}: cannot be read as IDX ({e}).') from e
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise IdxFormatError(
      f'{path}: not an IDX file (magic {raw[:4].hex() or "empty"}, expected 0000<dtype><rank>).'
    )
  code, rank = raw[2], raw[3]
  if code not in _DTYPES:
    raise IdxFormatError(f'{path}: unknown IDX dtype code 0x{code:02x}.')
  header = 4 + 4 * rank
  if len(raw) < header:
    raise IdxFormatError(f'{path}: truncated header ({len(raw)} bytes for rank {rank}).')
  dims = struct.unpack(f'>{rank}I', raw[4:header])
  dtype = _DTYPES[code]
  expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
  if len(raw) - header != expected:
    raise IdxFormatError(
      f'{path}: payload has {len(raw) - header} bytes but dims {dims} need {expected}; '
      'the file is truncated or corrupted (download it again).'
    )
  return (
    np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder('='))
  )


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
  """Writes ``array`` as an IDX file (gzipped when ``path`` ends with ``.gz``)."""
  array = np.asarray(array)
  code = _CODES.get(array.dtype)
  if code is None:
    raise ValueError(f'dtype {array.dtype} has no IDX code; use one of {sorted(map(str, _CODES))}.')
  header = bytes([0, 0, code, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
  with _open(os.fspath(path), 'wb') as f:
    f.write(header + array.astype(_DTYPES[code]).tobytes())
