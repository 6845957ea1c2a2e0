#!/usr/bin/env bash
# Native lock+release against the canned-reply ceiling (docs/benchmarks.md): ROUNDS
# rounds, each running the ceiling server and dflockd back to back with both load
# generators (../shared/tools/lean_load.c and dflockd-bench) at 50 and 100 workers.
# Prints every round and, per tool and worker count, the median and best ratio
# (this box drifts by ±15% between rounds; a ratio within one round is what counts),
# and each server's CPU time per pair during the lean_load runs (from /proc: the
# drift moves it far less than throughput; with the server thread saturated, the
# ceiling's CPU per pair over ours is the share of the ceiling a server can reach).
# Usage: bench/ceiling_ratio.sh [build-dir]   (ROUNDS, DURATION, SHARED override)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
SHARED=${SHARED:-../shared/tools}
. bench/servers.sh
ceiling_tools
"$tools/ceiling" 17802 & PIDS+=($!); declare -A PID_OF=([17802]=$!)
"$BUILD/dflockd" --port 17801 --http-port 0 --grpc-port 0 --max-locks 100000 --log-level warn & PIDS+=($!)
PID_OF[17801]=$!
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime
wait_port 17801; wait_port 17802
for r in $(seq "$ROUNDS"); do
  for w in 50 100; do
    for port in 17802 17801; do
      t0=$(cpu_ticks "${PID_OF[$port]}")
      lean=$("$tools/lean" "$port" "$w" "$DURATION" | grep -oE '[0-9]+ ops/s' | cut -d' ' -f1)
      ticks=$(( $(cpu_ticks "${PID_OF[$port]}") - t0 ))
      bench=$("$BUILD/dflockd-bench" --server "127.0.0.1:$port" --workers "$w" --warmup 0.5 \
              --duration "$DURATION" --no-progress --json)
      echo "round $r w=$w port $port: lean $lean ($ticks ticks), dflockd-bench $bench" >&2
      echo "$r $w $port $lean $ticks $bench" >> "$results"
    done
  done
done
python3 - "$results" "$DURATION" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
runs = {}
duration, hz = float(sys.argv[2]), float(sys.argv[3])
for line in open(sys.argv[1]):
    r, w, port, lean, ticks, bench = line.split(" ", 5)
    runs[(r, w, port)] = (float(lean), json.loads(bench), float(ticks))
cpu_us = lambda run: 1e6 * run[2] / hz / (run[0] * duration)  # server CPU per pair
for w in ("50", "100"):
    for tool in ("lean_load", "dflockd-bench"):
        ratios = []
        for r in sorted({k[0] for k in runs}):
            ceil, ours = runs[(r, w, "17802")], runs[(r, w, "17801")]
            pick = (lambda x: x[0]) if tool == "lean_load" else (lambda x: x[1]["ops_per_s"])
            ratios.append(pick(ours) / pick(ceil))
            print("w=%s %-13s round %s: ceiling %8.0f  dflockd %8.0f  %5.1f%%"
                  % (w, tool, r, pick(ceil), pick(ours), 100 * ratios[-1]))
        print("w=%s %-13s median %5.1f%%  best %5.1f%%"
              % (w, tool, 100 * statistics.median(ratios), 100 * max(ratios)))
    shares = []
    for r in sorted({k[0] for k in runs}):
        ceil, ours = cpu_us(runs[(r, w, "17802")]), cpu_us(runs[(r, w, "17801")])
        shares.append(ceil / ours)
        print("w=%s server CPU/pair round %s: ceiling %5.2f us  dflockd %5.2f us  %5.1f%%"
              % (w, r, ceil, ours, 100 * shares[-1]))
    print("w=%s server CPU/pair median %5.1f%%" % (w, 100 * statistics.median(shares)))
PY
