#!/usr/bin/env bash
# gans' FID Inception-v3 against pytorch-fid's modules with random weights (see inception_parity.py).
#
#   TORCH_PYTHON=/tmp/fidref/bin/python launch/reference/inception_parity.sh [NUM_IMAGES]
#
# TORCH_PYTHON: a Python with torch, torchvision and pytorch-fid (not gans dependencies), e.g.
#   python -m venv /tmp/fidref && /tmp/fidref/bin/pip install torch torchvision pytorch-fid
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
"${TORCH_PYTHON:?set TORCH_PYTHON to a python with torch and pytorch-fid}" \
  launch/reference/inception_parity.py torch "$out" "${1:-8}"
PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} python launch/reference/inception_parity.py gans "$out"
