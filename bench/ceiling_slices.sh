#!/usr/bin/env bash
# Native lock+release against the canned-reply ceiling in short alternating slices
# (docs/benchmarks.md, round five). This VM switches between a fast and a slow phase
# within seconds, which scatters the per-round ratios of ceiling_ratio.sh; slices of
# one second, ceiling and dflockd back to back in alternating order, pair up
# measurements taken in the same phase, and the median over many slices is stable.
#
#   bench/ceiling_slices.sh [build-dir]        lean_load, WORKERS workers: the median
#                                              of pairs/s ratios and of the server-CPU
#                                              share (ceiling CPU per pair / dflockd's)
#   MODE=latency bench/ceiling_slices.sh       one worker, dflockd-bench: p50 ratio
#   MODE=latency PIN=1 bench/ceiling_slices.sh the same with servers and client pinned
#                                              to one core (no cross-CPU wake-ups: the
#                                              noise goes, every extra cost shows)
#   BASELINE=old/dflockd bench/ceiling_slices.sh
#                                              another dflockd build in the ceiling's
#                                              place: two builds compared slice by slice
#
# SLICES (default 30), SLICE (seconds, default 1), WORKERS (default 50), SHARED.
# Server CPU comes from /proc/<pid>/task/*/schedstat (nanoseconds).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODE=${MODE:-throughput}
SLICES=${SLICES:-30}
SLICE=${SLICE:-1}
WORKERS=${WORKERS:-50}
PIN=${PIN:-0}
SHARED=${SHARED:-../shared/tools}
. bench/servers.sh
pin=()  # a prefix, not a function: "$!" must be the server's own pid
if [ "$PIN" = 1 ]; then pin=(taskset -c 1); fi
ceiling_tools
if [ -n "${BASELINE:-}" ]; then
  "${pin[@]}" "$BASELINE" --port 17812 --http-port 0 --grpc-port 0 --max-locks 100000 \
    --log-level warn & PIDS+=($!)
else
  "${pin[@]}" "$tools/ceiling" 17812 & PIDS+=($!)
fi
declare -A PID_OF=([17812]=$!)
"${pin[@]}" "$BUILD/dflockd" --port 17811 --http-port 0 --grpc-port 0 --max-locks 100000 \
  --log-level warn & PIDS+=($!)
PID_OF[17811]=$!
wait_port 17811; wait_port 17812
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
for s in $(seq "$SLICES"); do
  if (( s % 2 )); then order="17812 17811"; else order="17811 17812"; fi
  for port in $order; do
    if [ "$MODE" = latency ]; then
      p50=$("${pin[@]}" "$BUILD/dflockd-bench" --server "127.0.0.1:$port" --workers 1 --warmup 0.2 \
            --duration "$SLICE" --no-progress --json |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["p50_us"])')
      echo "$s $port $p50" >> "$results"
    else
      c0=$(cpu_ns "${PID_OF[$port]}")
      pairs=$("$tools/lean" "$port" "$WORKERS" "$SLICE" | grep -oE '[0-9]+ ops/s' | cut -d' ' -f1)
      c1=$(cpu_ns "${PID_OF[$port]}")
      echo "$s $port $pairs $(( (c1 - c0) ))" >> "$results"
    fi
  done
done
python3 - "$results" "$MODE" "$SLICE" "${BASELINE:+baseline}" <<'PY'
import statistics, sys
path, mode, slice_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
ref = sys.argv[4] or "ceiling"  # what runs on the reference port
runs = {}
for line in open(path):
    s, port, *values = line.split()
    runs.setdefault(s, {})[port] = [float(v) for v in values]
def summary(name, values, unit="%"):
    values = sorted(values)
    n = len(values)
    print("%-34s median %6.1f%s  quartiles %6.1f / %6.1f  (%d slices)"
          % (name, statistics.median(values), unit, values[n // 4], values[(3 * n) // 4], n))
ceil, ours = "17812", "17811"
if mode == "latency":
    summary("p50, dflockd over the " + ref, [100 * (r[ours][0] / r[ceil][0] - 1) for r in runs.values()])
    print("p50 medians: %s %.1f us, dflockd %.1f us"
          % (ref, statistics.median(r[ceil][0] for r in runs.values()),
             statistics.median(r[ours][0] for r in runs.values())))
else:
    summary("pairs/s, dflockd / " + ref, [100 * r[ours][0] / r[ceil][0] for r in runs.values()])
    cpu = lambda r: r[1] / (r[0] * slice_s)  # server ns per pair
    summary("server CPU per pair, %s / dflockd" % ref, [100 * cpu(r[ceil]) / cpu(r[ours]) for r in runs.values()])
    print("medians: %s %.0f pairs/s, %.2f us CPU per pair; dflockd %.0f pairs/s, %.2f us"
          % (ref, statistics.median(r[ceil][0] for r in runs.values()),
             statistics.median(cpu(r[ceil]) for r in runs.values()) / 1000,
             statistics.median(r[ours][0] for r in runs.values()),
             statistics.median(cpu(r[ours]) for r in runs.values()) / 1000))
PY
