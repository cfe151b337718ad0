#!/usr/bin/env bash
# N local processes on CPU, each with D simulated devices, joined by jax.distributed over 127.0.0.1 (gloo
# collectives): the multi-host code path, runnable on one machine.
#
#   launch/multiprocess_cpu.sh NUM_PROCESSES DEVICES_PER_PROCESS --config=configs/gan.py [more flags]
#
# SIGTERM, SIGINT and SIGHUP to the launcher reach every process as SIGTERM (they checkpoint at one common
# step and exit 0), and the launcher waits for them; where util-linux's setpriv is installed, the processes
# also get SIGTERM when the launcher itself is killed (SIGKILL included). When a process fails, the others
# get SIGTERM too: the run cannot go on without it. Exit status: 0 when every process succeeded, else that
# of the first one that failed.
set -uo pipefail
num_processes=$1; devices=$2; shift 2
port=${GANS_COORDINATOR_PORT:-$((20000 + RANDOM % 20000))}
on_parent_death=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
  on_parent_death=(setpriv --pdeathsig TERM --)
fi

pids=()
stop_all() { kill -s TERM "${pids[@]}" 2>/dev/null; }
trap stop_all TERM INT HUP

for ((i = 0; i < num_processes; i++)); do
  XLA_FLAGS="--xla_force_host_platform_device_count=${devices}" JAX_PLATFORMS=cpu \
    "${on_parent_death[@]}" python -m gans.main --coordinator_address="127.0.0.1:${port}" \
    --num_processes="${num_processes}" --process_id="${i}" "$@" &
  pids+=($!)
done

status=0
running=("${pids[@]}")
while ((${#running[@]})); do
  wait -n -p finished "${running[@]}"
  code=$?
  [[ -n ${finished:-} ]] || continue  # A trapped signal ended the wait (and unset finished).
  still=()
  for pid in "${running[@]}"; do [[ ${pid} == "${finished}" ]] || still+=("${pid}"); done
  running=("${still[@]+"${still[@]}"}")
  if ((code != 0 && status == 0)); then
    echo "launch/multiprocess_cpu.sh: process ${finished} exited with status ${code}; stopping the others" >&2
    status=${code}
    stop_all
  fi
done
exit "${status}"
