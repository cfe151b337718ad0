#!/usr/bin/env bash
# N local processes on CPU, each with D simulated devices, joined by jax.distributed over 127.0.0.1 (gloo
# collectives): the multi-host code path, runnable on one machine.
#
#   launch/multiprocess_cpu.sh NUM_PROCESSES DEVICES_PER_PROCESS --config=configs/gan.py [more flags]
set -euo pipefail
num_processes=$1; devices=$2; shift 2
port=${GANS_COORDINATOR_PORT:-$((20000 + RANDOM % 20000))}
pids=()
for ((i = 0; i < num_processes; i++)); do
  XLA_FLAGS="--xla_force_host_platform_device_count=${devices}" JAX_PLATFORMS=cpu \
    python -m gans.main --coordinator_address="127.0.0.1:${port}" --num_processes="${num_processes}" \
    --process_id="${i}" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "${pid}" || status=$?; done
exit "${status}"
