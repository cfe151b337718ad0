#!/usr/bin/env bash
# One host, all of its devices (CPU, one GPU or several): the global batch is split over them.
#
#   launch/local.sh --config=configs/gan.py [--workdir=runs/gan] [--config.train.steps=3000 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m gans.main "$@"
