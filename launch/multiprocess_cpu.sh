#!/usr/bin/env bash
# N local processes on CPU, each with D simulated devices, joined by jax.distributed over 127.0.0.1 (gloo
# collectives): the multi-host code path, runnable on one machine.
#
#   launch/multiprocess_cpu.sh NUM_PROCESSES DEVICES_PER_PROCESS --config=configs/gan.py [more flags]
#
# SIGTERM, SIGINT and SIGHUP to the launcher reach every process as SIGTERM (they checkpoint at one common
# step and exit 0), and the launcher waits for them; where util-linux's setpriv is installed, the processes
# also get SIGTERM when the launcher itself is killed (SIGKILL included). When a process fails, the others
# get GANS_PEER_GRACE_S seconds (default 5) to see it and end on their own (status 4 and a FATAL line naming
# it, see gans/peers.py), then SIGTERM: the run cannot go on without it. Every process that fails is named
# (its --process_id, pid and status) on stderr. Exit status: 0 when every process succeeded, else that of the
# first one that failed for a reason of its own: status 4 (a process that saw a peer die) gives way to the
# dead peer's own status, whichever of the two is reaped first.
set -uo pipefail
num_processes=$1; devices=$2; shift 2
port=${GANS_COORDINATOR_PORT:-$((20000 + RANDOM % 20000))}
grace_s=${GANS_PEER_GRACE_S:-5}
on_parent_death=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
  on_parent_death=(setpriv --pdeathsig TERM --)
fi

pids=()
declare -A process_id_of
stop_all() { kill -s TERM "${pids[@]}" 2>/dev/null; }
trap stop_all TERM INT HUP
timer=''
stop_all_after_grace() {
  # Its sleep ends with it (an orphaned sleep would hold the launcher's stderr open).
  (
    trap 'kill "${sleeper}" 2>/dev/null; exit 0' TERM
    sleep "${grace_s}" & sleeper=$!
    wait "${sleeper}" && kill -s TERM "${pids[@]}" 2>/dev/null
  ) &
  timer=$!
}

for ((i = 0; i < num_processes; i++)); do
  XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=${devices}" JAX_PLATFORMS=cpu \
    "${on_parent_death[@]}" python -m gans.main --coordinator_address="127.0.0.1:${port}" \
    --num_processes="${num_processes}" --process_id="${i}" "$@" &
  pids+=($!)
  process_id_of[$!]=${i}
done

status=0
running=("${pids[@]}")
while ((${#running[@]})); do
  wait -n -p finished "${running[@]}" 2>/dev/null
  code=$?
  if [[ -z ${finished:-} ]]; then
    # A trapped signal ended the wait (and unset finished), or a process had ended before it: bash has
    # reaped it already (e.g. while the loop sent SIGTERM), and wait -n says "no such job" for it while
    # a plain wait still gives its status.
    for pid in "${running[@]}"; do
      if ! kill -0 "${pid}" 2>/dev/null; then
        finished=${pid}
        wait "${pid}"
        code=$?
        break
      fi
    done
    [[ -n ${finished:-} ]] || continue
  fi
  still=()
  for pid in "${running[@]}"; do [[ ${pid} == "${finished}" ]] || still+=("${pid}"); done
  running=("${still[@]+"${still[@]}"}")
  ((code == 0)) && continue
  echo "launch/multiprocess_cpu.sh: process ${process_id_of[${finished}]} (pid ${finished}) exited with status ${code}" >&2
  if ((status == 0)); then
    echo "launch/multiprocess_cpu.sh: stopping the others (SIGTERM in ${grace_s} s unless they end first)" >&2
    status=${code}
    stop_all_after_grace
  elif ((status == 4 && code != 4)); then
    status=${code}  # The cause: the process that a status-4 survivor saw die may be reaped after it.
  fi
done
[[ -z ${timer} ]] || kill "${timer}" 2>/dev/null
exit "${status}"
