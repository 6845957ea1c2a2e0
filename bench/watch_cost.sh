#!/usr/bin/env bash
# What the watch API costs the lock path (docs/benchmarks.md, "Watch cost"): lock +
# release at WORKERS workers, ROUNDS rounds alternating three loads on one box:
#   base        BASE_BIN (a build without the watch API), no watcher;
#   none        this build, no watcher;
#   watched     this build, one WebSocket watcher on `>` reading every event.
# The median and the best round are reported (this box drifts by ±15% between
# rounds; the best rounds are the quiet ones). BASE_BIN defaults to this build (then "base" and
# "none" differ only by noise).
# Usage: [BASE_BIN=…] bench/watch_cost.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/dflockd
BASE_BIN=${BASE_BIN:-$BIN}
BENCH=$BUILD/dflockd-bench
WORKERS=${WORKERS:-50}
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-5}
. bench/servers.sh

"$BASE_BIN" --port 17700 --http-port 17701 --grpc-port 0 --log-level warn & PIDS+=($!)
"$BIN" --port 17710 --http-port 17711 --grpc-port 0 --log-level warn & PIDS+=($!)
wait_port 17700; wait_port 17710
results=$(mktemp)
for r in $(seq "$ROUNDS"); do
  for load in base none watched; do
    case $load in
      base) args=(--server 127.0.0.1:17700) ;;
      none) args=(--server 127.0.0.1:17710) ;;
      watched) args=(--server 127.0.0.1:17710 --http 127.0.0.1:17711 --watchers 1) ;;
    esac
    line=$("$BENCH" "${args[@]}" --workers "$WORKERS" --duration "$DURATION" --no-progress --json)
    echo "$load round $r: $line" >&2
    echo "$load $line" >> "$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    load, doc = line.split(" ", 1)
    rows.setdefault(load, []).append(json.loads(doc))
med = {k: sorted(v, key=lambda r: r["ops_per_s"])[len(v) // 2] for k, v in rows.items()}
best = {k: max(r["ops_per_s"] for r in v) for k, v in rows.items()}
print("| load | pairs/s, median | pairs/s, best | p50 µs | p99 µs | median vs base | best vs base | events read by the watcher |")
print("|---|---|---|---|---|---|---|---|")
for load in ("base", "none", "watched"):
    m = med[load]
    events = "%d (%s)" % (m["watch_events"], "dropped" if m["watcher_dropped"] else "kept up") if "watch_events" in m else ""
    print("| %s | %d | %d | %.0f | %.0f | %.1f%% | %.1f%% | %s |" % (
        load, m["ops_per_s"], best[load], m["p50_us"], m["p99_us"],
        100 * m["ops_per_s"] / med["base"]["ops_per_s"], 100 * best[load] / best["base"], events))
print()
print("watched / none: median %.1f%%, best %.1f%%;  none / base: median %.1f%%, best %.1f%%" % (
    100 * med["watched"]["ops_per_s"] / med["none"]["ops_per_s"], 100 * best["watched"] / best["none"],
    100 * med["none"]["ops_per_s"] / med["base"]["ops_per_s"], 100 * best["none"] / best["base"]))
print("rounds (pairs/s): " + "; ".join("%s %s" % (k, " ".join("%d" % r["ops_per_s"] for r in v))
                                     for k, v in rows.items()))
PY
