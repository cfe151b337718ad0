#!/usr/bin/env bash
# A Cloud TPU VM pod slice: the same command on every worker; jax.distributed.initialize() discovers
# the pod by itself.
#
#   launch/tpu_pod.sh TPU_NAME ZONE --config=configs/dcgan_celeba.py --workdir=gs://BUCKET/runs/dcgan
#
# Needs gcloud configured for the project, the repo at ~/gans on every worker
# (gcloud compute tpus tpu-vm scp --worker=all --recurse . TPU_NAME:~/gans --zone=ZONE) and
# `pip install -e ~/gans jax[tpu]` there. A gs:// workdir needs orbax's GCS support (gcsfs).
set -euo pipefail
tpu=$1; zone=$2; shift 2
args=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "${tpu}" --zone="${zone}" --worker=all \
  --command="cd ~/gans && python -m gans.main --auto_distributed${args}"
